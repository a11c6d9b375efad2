"""Alert message templates: checked once when the rules load, rendered within a bound.

Takes a template such as ``"{rule}: {label} ({score:.2f})"``; :func:`template_problem`
says what is wrong with it (unknown field, nested or malformed format spec, a width or
precision that would allocate megabytes); :func:`render` fills it in and cuts the
result to :data:`MAX_MESSAGE` characters, so a long list of labels cannot make an
alert too big for the journal or an MQTT payload either.
"""

from __future__ import annotations

import re
import string

from monitor.rules.schema import MESSAGE_FIELDS

MAX_TEMPLATE = 500  # characters of the template itself
MAX_MESSAGE = 2000  # characters of a rendered message
MAX_WIDTH = 100  # '{rule:>100}' pads to a line's width; more is a typo or an attack
MAX_PRECISION = 10  # '{score:.10f}' is more digits than any score has
# Python's format-spec mini-language: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?", re.S)
_SAMPLE = {f: 0.5 if f in ("score", "onset") else "x" for f in MESSAGE_FIELDS}


def template_problem(template: str) -> str | None:
    """None if ``template`` is safe to render with :data:`MESSAGE_FIELDS`, else the problem in words."""
    if len(template) > MAX_TEMPLATE:
        return f"message template is {len(template)} characters long, more than {MAX_TEMPLATE}"
    try:
        for _, field, spec, _conversion in string.Formatter().parse(template):
            if field is not None and field not in MESSAGE_FIELDS:
                return f"message template uses unknown field '{{{field[:40]}}}'"
            if not spec:
                continue
            match = _SPEC.fullmatch(spec)
            if match is None:  # also refuses a nested '{...}' inside a spec
                return f"message template is not valid: unknown format '{spec[:40]}'"
            width, precision = int(match["width"] or 0), int(match["precision"] or 0)
            if width > MAX_WIDTH or precision > MAX_PRECISION:
                return (f"message template format '{spec[:40]}' is too wide: widths up to {MAX_WIDTH}, "
                        f"precisions up to {MAX_PRECISION}")
        template.format(**_SAMPLE)
    except (ValueError, TypeError) as exc:
        return f"message template is not valid: {exc}"
    return None


def render(template: str, **fields: object) -> str:
    """``template`` filled in (it passed :func:`template_problem`), at most :data:`MAX_MESSAGE` characters."""
    message = template.format(**fields)
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
