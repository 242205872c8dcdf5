"""Discord's limits on what one message may hold, checked as Discord checks them.

Discord refuses a message (created or edited, by the bot or through an interaction) that breaks one of
these with HTTP 400, code 50035 "Invalid Form Body" and an `errors` tree naming each field at fault;
discord.py checks none of them before sending. The sandbox refuses the same messages the same way, so
a test that passes against it proves the bot stays within Discord's limits rather than assuming so.
"""

from __future__ import annotations

from typing import Any

from quranbot.sandbox.model import JSON

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
#: Title, description, field names and values, footer text and author name, summed over every embed
#: of one message (not per embed).
EMBED_TOTAL_LIMIT = 6000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
CUSTOM_ID_LIMIT = 100


class InvalidFormBody(ValueError):
    """A message Discord would refuse; `errors` is the tree Discord sends back (field path → reasons)."""

    def __init__(self, errors: JSON) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in _flatten(errors)))


def check_message(body: JSON) -> None:
    """Raise InvalidFormBody if the fields of a message create or edit break Discord's limits."""
    errors: JSON = {}
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_LIMIT:
        errors["content"] = _max_length(CONTENT_LIMIT)
    embeds = body.get("embeds")
    if isinstance(embeds, list):
        embed_errors = _embed_errors(embeds)
        if embed_errors:
            errors["embeds"] = embed_errors
    components = body.get("components")
    if isinstance(components, list):
        component_errors = _component_errors(components)
        if component_errors:
            errors["components"] = component_errors
    if errors:
        raise InvalidFormBody(errors)


def embed_size(embed: JSON) -> int:
    """The characters Discord counts towards the 6,000 of a message."""
    fields = embed.get("fields") or []
    return (
        _length(embed.get("title"))
        + _length(embed.get("description"))
        + sum(_length(f.get("name")) + _length(f.get("value")) for f in fields)
        + _length((embed.get("footer") or {}).get("text"))
        + _length((embed.get("author") or {}).get("name"))
    )


def _embed_errors(embeds: list[JSON]) -> JSON:
    errors: JSON = {}
    if len(embeds) > EMBEDS_PER_MESSAGE:
        return _max_length(EMBEDS_PER_MESSAGE)
    for index, embed in enumerate(embeds):
        found: JSON = {}
        for key, limit in (("title", TITLE_LIMIT), ("description", DESCRIPTION_LIMIT)):
            if _length(embed.get(key)) > limit:
                found[key] = _max_length(limit)
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_PER_EMBED:
            found["fields"] = _max_length(FIELDS_PER_EMBED)
        else:
            field_errors: JSON = {}
            for number, field in enumerate(fields):
                wrong = {
                    key: _max_length(limit)
                    for key, limit in (("name", FIELD_NAME_LIMIT), ("value", FIELD_VALUE_LIMIT))
                    if _length(field.get(key)) > limit
                }
                if wrong:
                    field_errors[str(number)] = wrong
            if field_errors:
                found["fields"] = field_errors
        for key, limit in (("footer", FOOTER_LIMIT), ("author", AUTHOR_LIMIT)):
            part = "text" if key == "footer" else "name"
            if _length((embed.get(key) or {}).get(part)) > limit:
                found[key] = {part: _max_length(limit)}
        if found:
            errors[str(index)] = found
    if not errors and sum(embed_size(e) for e in embeds) > EMBED_TOTAL_LIMIT:
        return _reason("MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}")
    return errors


def _component_errors(components: list[JSON], depth: int = 0) -> JSON:
    """custom_ids of buttons and selects, through action rows (and containers) at any depth."""
    errors: JSON = {}
    for index, component in enumerate(components):
        found: JSON = {}
        custom_id = component.get("custom_id")
        if custom_id is not None and not 1 <= len(str(custom_id)) <= CUSTOM_ID_LIMIT:
            found["custom_id"] = _reason(
                "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {CUSTOM_ID_LIMIT} in length."
            )
        inner = component.get("components")
        if isinstance(inner, list) and depth < 4:
            nested = _component_errors(inner, depth + 1)
            if nested:
                found["components"] = nested
        if found:
            errors[str(index)] = found
    return errors


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _max_length(limit: int) -> JSON:
    return _reason("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _reason(code: str, message: str) -> JSON:
    return {"_errors": [{"code": code, "message": message}]}


def _flatten(errors: JSON, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in errors.items():
        if key == "_errors":
            found.extend((path or "body", str(e["message"])) for e in value)
        else:
            found.extend(_flatten(value, f"{path}.{key}" if path else key))
    return found
