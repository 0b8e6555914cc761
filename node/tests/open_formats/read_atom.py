"""Parses an Atom feed from stdin with feedparser and prints what a feed
reader sees, as JSON: the bozo flag (and its exception), the feed's links
by rel, and per entry its id, title, summary, author, language, categories,
updated time and link.
"""

import json
import sys

import feedparser

parsed = feedparser.parse(sys.stdin.buffer.read())
print(json.dumps({
    "bozo": int(bool(parsed.bozo)),
    "bozo_exception": str(parsed.get("bozo_exception", "")),
    "version": parsed.version,
    "title": parsed.feed.get("title"),
    "links": {link.get("rel"): link.get("href") for link in parsed.feed.get("links", [])},
    "entries": [
        {
            "id": entry.get("id"),
            "title": entry.get("title"),
            "summary": entry.get("summary"),
            "author": entry.get("author"),
            "lang": entry.get("title_detail", {}).get("language"),
            "tags": [tag.get("term") for tag in entry.get("tags", [])],
            "updated": entry.get("updated"),
            "link": entry.get("link"),
        }
        for entry in parsed.entries
    ],
}))
