#!/usr/bin/python3
"""Replaces generated blocks of a Markdown file with fresh benchmark output.

    /usr/bin/python3 bench/update_doc.py docs/PERFORMANCE.md RESULTS_DIR

A block is the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; its new content is
RESULTS_DIR/NAME.md. Blocks without a result file are left as they are (a partial run updates
only what it measured); a result file without a block in the document is an error, so nothing
measured is silently dropped.
"""

import os
import re
import sys


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    doc, results = sys.argv[1], sys.argv[2]
    text = open(doc).read()
    names = set(re.findall(r"<!-- bench:([\w-]+) -->", text))
    updated = []
    for f in sorted(os.listdir(results)):
        if not f.endswith(".md"):
            continue
        name = f[:-3]
        if name not in names:
            raise SystemExit(f"update_doc.py: {doc} has no block <!-- bench:{name} --> for "
                             f"{os.path.join(results, f)}")
        body = open(os.path.join(results, f)).read().strip("\n")
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
        updated.append(name)
    with open(doc, "w") as out:
        out.write(text)
    print(f"update_doc.py: {doc}: updated {', '.join(updated) or 'nothing'}")


if __name__ == "__main__":
    main()
