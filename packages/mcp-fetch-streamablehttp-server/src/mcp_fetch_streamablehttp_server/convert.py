"""From response bytes to text a model can read: HTML becomes Markdown."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from markdownify import markdownify

TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-yaml")
NOT_CONTENT = ["script", "style", "noscript", "template", "iframe", "svg", "canvas", "head"]


def is_text(content_type: str) -> bool:
    return (
        not content_type  # unlabelled: try it as text
        or content_type.startswith("text/")
        or content_type in TEXT_TYPES
        or content_type.endswith(("+json", "+xml"))
    )


def is_html(content_type: str, text: str) -> bool:
    if content_type in ("text/html", "application/xhtml+xml"):
        return True
    return not content_type and "<html" in text[:500].lower()


def html_to_markdown(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(NOT_CONTENT):
        tag.decompose()
    root = soup.body or soup
    markdown = markdownify(str(root), heading_style="ATX", bullets="-")
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()
