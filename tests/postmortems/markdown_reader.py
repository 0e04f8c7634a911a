"""Read Markdown back the way a CommonMark + GFM-tables renderer does, for assertions."""

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark", {"html": True}).enable("table")


def _text(inline: Token) -> str:
    """What a reader sees of an inline run: escapes and entities resolved."""
    return "".join(child.content for child in inline.children or [])


@dataclass
class Document:
    html: str
    headings: list[tuple[int, str]] = field(default_factory=list)
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    token_types: set[str] = field(default_factory=set)

    def rows(self, section: str) -> list[list[str]]:
        """The body rows of the table in the section headed `section` (header row left out)."""
        return self.tables[section][1:]


def read(text: str) -> Document:
    tokens = _PARSER.parse(text)
    doc = Document(html=_PARSER.render(text))
    section = ""
    for n, token in enumerate(tokens):
        doc.token_types.add(token.type)
        doc.token_types.update(child.type for child in token.children or [])
        if token.type == "heading_open":
            section = _text(tokens[n + 1])
            doc.headings.append((int(token.tag[1]), section))
        elif token.type == "table_open":
            doc.tables[section] = []
        elif token.type == "tr_open":
            doc.tables[section].append([])
        elif token.type == "inline" and tokens[n - 1].type in ("td_open", "th_open"):
            doc.tables[section][-1].append(_text(token))
    return doc
