"""The typed contract's text fields: what the OpenAPI document's pattern allows is what the
server keeps (the fuzz found "\\x1f": allowed by the document's ``\\s``, stripped to nothing
by the server)."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from registry.contract import TEXT_PATTERN, Text


@pytest.mark.parametrize("shape", ["{0}", "{0} ", " {0} ", "a{0}", "{0}{0}"])
def test_the_text_pattern_the_schema_and_the_server_agree_on_every_character(shape: str) -> None:
    # No class shorthand (\s, \w, \d): their meaning differs between ECMAScript (the
    # document's readers), Python and Rust (pydantic); spelled-out characters do not.
    assert not re.search(r"\\[sSwWdD]", TEXT_PATTERN)
    text = TypeAdapter(Text)
    disagree = []
    for code_point in range(1, 0x3100):
        value = shape.format(chr(code_point))
        kept = value.strip() != ""  # what the server does with it
        documented = re.fullmatch(TEXT_PATTERN, value) is not None  # what the document says
        try:
            text.validate_python(value)  # pydantic's own check (Rust regex, then the strip)
            accepted = True
        except ValidationError:
            accepted = False
        if not kept == documented == accepted:
            disagree.append((hex(code_point), kept, documented, accepted))
    assert disagree == []
    with pytest.raises(ValidationError):
        text.validate_python("a\x00")
