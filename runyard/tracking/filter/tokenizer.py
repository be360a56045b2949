"""The filter tokenizer: text to a list of positioned tokens.

Example:
    >>> [t.text for t in tokenize("params.lr = '0.1'")]
    ['params.lr', '=', '0.1']
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from runyard.errors import InvalidFilter

__all__ = ["Tok", "Token", "tokenize"]


class Tok(enum.Enum):
    """Token kinds."""

    IDENT = "identifier"
    WORD = "word"
    STRING = "string"
    NUMBER = "number"
    OP = "operator"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    END = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    """A token.

    Attributes:
        kind: its kind.
        text: for IDENT the prefix and key joined by a dot (``prefix`` may be empty for a
            bare word); for STRING the unquoted value; otherwise the source text.
        position: offset in the source.
        prefix: for IDENT, the part before the dot.
        key: for IDENT, the (unquoted) key.
        suffix: for IDENT, an aggregate after a quoted key (``min``/``max``/``latest``).
    """

    kind: Tok
    text: str
    position: int
    prefix: str = ""
    key: str = ""
    suffix: str = ""


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_\-/:.@]+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_OPS = ("!=", "<>", "<=", ">=", "==", "=", "<", ">")


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string starting at ``text[start]``; return (value, end offset)."""
    quote = text[start]
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise InvalidFilter(f"unclosed quote {quote}", text, start)


def _read_identifier(text: str, start: int, word: str, i: int) -> tuple[Token, int]:
    """Read ``<word>.<key>[.<aggregate>]`` where ``text[i]`` is the dot."""
    i += 1
    if i < len(text) and text[i] in "`\"'":
        key, i = _read_quoted(text, i)
        suffix = ""
        m = _WORD.match(text, i + 1) if text.startswith(".", i) else None
        if m:
            suffix, i = m.group(0), m.end()
    else:
        m = _BARE_KEY.match(text, i)
        if m is None:
            raise InvalidFilter(f"expected a key after '{word}.'", text, i)
        key, suffix, i = m.group(0), "", m.end()
    if not key:
        raise InvalidFilter("empty key", text, start)
    return Token(Tok.IDENT, f"{word}.{key}", start, word, key, suffix), i


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens, ending with an END token.

    Raises:
        InvalidFilter: an unclosed quote or a character that starts no token.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            value, end = _read_quoted(text, i)
            tokens.append(Token(Tok.STRING, value, i))
            i = end
        elif ch == "`":
            value, end = _read_quoted(text, i)
            tokens.append(Token(Tok.IDENT, value, i, "", value))
            i = end
        elif ch == "(":
            tokens.append(Token(Tok.LPAREN, ch, i))
            i += 1
        elif ch == ")":
            tokens.append(Token(Tok.RPAREN, ch, i))
            i += 1
        elif ch == ",":
            tokens.append(Token(Tok.COMMA, ch, i))
            i += 1
        elif (m := _NUMBER.match(text, i)) and not (ch in "+-" and tokens and _is_operand(tokens)):
            tokens.append(Token(Tok.NUMBER, m.group(0), i))
            i = m.end()
        elif m := _WORD.match(text, i):
            word = m.group(0)
            if m.end() < n and text[m.end()] == ".":
                tok, i = _read_identifier(text, i, word, m.end())
                tokens.append(tok)
            else:
                tokens.append(Token(Tok.WORD, word, i, "", word))
                i = m.end()
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                raise InvalidFilter(f"unexpected character {ch!r}", text, i)
            tokens.append(Token(Tok.OP, op, i))
            i += len(op)
    tokens.append(Token(Tok.END, "", n))
    return tokens


def _is_operand(tokens: list[Token]) -> bool:
    """True when the previous token ends an operand (so ``+``/``-`` would be binary)."""
    return tokens[-1].kind in (Tok.NUMBER, Tok.STRING, Tok.RPAREN, Tok.IDENT)
