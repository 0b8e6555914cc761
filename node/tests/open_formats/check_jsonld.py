"""Expands a seednet record's JSON-LD with pyld, offline, and checks that
every property, type and node address expands to an absolute IRI.

Usage: check_jsonld.py CONTEXT_FILE < document.json

The document names the schema.org context by URL; the document loader
answers that URL with CONTEXT_FILE (a context written for these tests: the
schema.org vocabulary, with the address-valued properties typed `@id` as
schema.org's own context types them) and refuses every other URL, so the
check never touches the network. Prints one line per problem and exits 1
when there is any; prints a summary and exits 0 otherwise.
"""

import json
import sys
from urllib.parse import urlsplit

from pyld import jsonld

SCHEMA_ORG = ("https://schema.org/", "https://schema.org", "http://schema.org/")


def loader_for(context_path):
    with open(context_path, encoding="utf-8") as handle:
        context = json.load(handle)

    def load(url, options=None):
        if url not in SCHEMA_ORG:
            raise jsonld.JsonLdError(
                "only the shipped schema.org context may be loaded",
                "jsonld.LoadDocumentError",
                {"url": url},
                code="loading document failed",
            )
        return {"contextUrl": None, "documentUrl": url, "document": context}

    return load


def absolute(iri):
    parts = urlsplit(iri)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return parts.scheme != "" and iri.startswith(parts.scheme + ":")


def walk(value, path, problems, counts):
    if isinstance(value, list):
        for index, item in enumerate(value):
            walk(item, f"{path}[{index}]", problems, counts)
        return
    if not isinstance(value, dict):
        return
    for key, member in value.items():
        here = f"{path}.{key}"
        if key == "@id":
            counts["ids"] += 1
            if not member.startswith("_:") and not absolute(member):
                problems.append(f"{here}: relative node address {member!r}")
        elif key == "@type":
            for type_iri in member if isinstance(member, list) else [member]:
                if not absolute(type_iri):
                    problems.append(f"{here}: relative type {type_iri!r}")
        elif key.startswith("@"):
            pass
        else:
            counts["properties"] += 1
            if not absolute(key):
                problems.append(f"{here}: property expands to a relative IRI")
        walk(member, here, problems, counts)


def main():
    document = json.load(sys.stdin)
    expanded = jsonld.expand(
        document, {"documentLoader": loader_for(sys.argv[1]), "base": None}
    )
    problems = []
    counts = {"ids": 0, "properties": 0}
    walk(expanded, "$", problems, counts)
    top_level = [key for key in document if not key.startswith("@")]
    if not expanded:
        problems.append("the document expands to nothing")
    else:
        kept = {key.rsplit("/", 1)[-1] for key in expanded[0] if not key.startswith("@")}
        for key in top_level:
            if key not in kept:
                problems.append(f"$.{key}: dropped by expansion")
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)
    print(f"ok: {counts['properties']} properties, {counts['ids']} node addresses, all absolute")


if __name__ == "__main__":
    main()
