"""What changed between two published snapshots, as text an admin reads.

A snapshot is ``{id: {field: value}}``: the stored fields of every
published endpoint. Nothing here knows the field names, so fields added to
the endpoint later are compared like the others.
"""
import difflib

SECRET_SUFFIX = '_secret'
HIDDEN = '(hidden)'


def label(values):
    "How a caller sees an endpoint: method, route and name"
    return (f"{values.get('method') or ''} {values.get('route') or ''} "
        f"\"{values.get('name') or ''}\"").strip()


def changes(old, new):
    """``(added, changed, removed)``: lists of ids, sorted by label.

    ``changed`` holds the ids present in both whose values differ.
    """
    def key(id_, snapshot):
        return (label(snapshot[id_]), id_)
    added = sorted((i for i in new if i not in old),
        key=lambda i: key(i, new))
    removed = sorted((i for i in old if i not in new),
        key=lambda i: key(i, old))
    changed = sorted((i for i in new if i in old and old[i] != new[i]),
        key=lambda i: key(i, new))
    return added, changed, removed


def field_diff(name, before, after, title=None, text=False):
    "Lines telling how one field changed; a unified diff for text"
    title = title or name
    if name.endswith(SECRET_SUFFIX):
        # Kept in the snapshot for a restore, never shown.
        return [f"  {title}: {HIDDEN} changed"]
    if text or _is_text(before) or _is_text(after):
        lines = difflib.unified_diff(
            _lines(before), _lines(after),
            fromfile=f"{title} (before)", tofile=f"{title} (after)",
            lineterm='')
        return ['  ' + line for line in lines]
    return [f"  {title}: {before!r} -> {after!r}"]


def render(old, new, titles=None, texts=()):
    """The readable diff of two snapshots: added, removed, then each
    changed endpoint with its changed fields.

    ``titles`` maps field names to what the admin reads; the fields in
    ``texts`` are always shown as a unified diff.
    """
    titles = titles or {}
    added, changed, removed = changes(old, new)
    lines = [f"Added: {label(new[i])}" for i in added]
    lines += [f"Removed: {label(old[i])}" for i in removed]
    for id_ in changed:
        before, after = old[id_], new[id_]
        lines.append(f"Changed: {label(after)}")
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                lines.extend(field_diff(name, before.get(name),
                        after.get(name), titles.get(name),
                        name in texts))
    return '\n'.join(lines)


def summary(old, new):
    "``(added, changed, removed)`` counts"
    return tuple(len(ids) for ids in changes(old, new))


def _is_text(value):
    return isinstance(value, str) and '\n' in value.rstrip('\n')


def _lines(value):
    if value is None:
        return []
    return str(value).splitlines()
