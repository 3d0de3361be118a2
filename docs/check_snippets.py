#!/usr/bin/env python3
"""Checks that every C++ block in the guides is compiled code.

Every ```cpp block (also ```c++, ```cxx, ```cc) in README.md and docs/*.md
must be preceded, on the line right before its fence, by a marker

    <!-- snippet: docs/snippets/FILE.cpp#NAME -->

naming a region of a source file that docs/CMakeLists.txt compiles and runs
as a test. In the source a region is the lines between two marker lines
`// [NAME]` (same name, any indentation), dedented by their common
indentation; marker lines of other regions inside it are left out. The
block's text must equal the region's text exactly.

usage: check_snippets.py [--fix] [--root DIR] [FILE.md ...]

--fix rewrites every marked block from its region (a block without a
marker, or naming a missing region, is still an error). Paths in markers
are relative to the repository root (--root, default: the parent of this
script's directory). Exits 0 if everything holds, 1 otherwise.
"""
import argparse
import pathlib
import re
import sys

CPP_FENCE = re.compile(r"^(\s*)```\s*(cpp|c\+\+|cxx|cc)\s*$", re.IGNORECASE)
ANY_FENCE = re.compile(r"^(\s*)(```+|~~~+)")
MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(\S+?)#([A-Za-z0-9_.-]+)\s*-->\s*$")
REGION = re.compile(r"^\s*// \[([A-Za-z0-9_.-]+)\]\s*$")


class Failure(Exception):
    pass


def dedent(lines):
    """Removes the indentation common to the non-blank lines."""
    indents = [len(l) - len(l.lstrip(" \t")) for l in lines if l.strip()]
    cut = min(indents) if indents else 0
    return [l[cut:] if l.strip() else "" for l in lines]


def regions_of(path):
    """Every region of a source file: name -> list of lines."""
    text = path.read_text(encoding="utf-8")
    open_regions = {}   # name -> lines, in opening order
    done = {}
    for number, line in enumerate(text.split("\n"), 1):
        m = REGION.match(line)
        if m:
            name = m.group(1)
            if name in open_regions:
                done[name] = dedent(open_regions.pop(name))
            elif name in done:
                raise Failure("%s:%d: region [%s] opened a second time"
                              % (path, number, name))
            else:
                open_regions[name] = []
            continue
        for lines in open_regions.values():
            lines.append(line.rstrip())
    if open_regions:
        raise Failure("%s: region(s) never closed: %s"
                      % (path, ", ".join(sorted(open_regions))))
    return done


class Sources:
    def __init__(self, root):
        self.root = root
        self.cache = {}

    def region(self, file, name):
        path = (self.root / file).resolve()
        snippets = (self.root / "docs" / "snippets").resolve()
        if path.parent != snippets or path.suffix != ".cpp":
            raise Failure("%s: snippets live in docs/snippets/*.cpp" % file)
        if not path.is_file():
            raise Failure("%s: no such file" % file)
        if path not in self.cache:
            self.cache[path] = regions_of(path)
        regions = self.cache[path]
        if name not in regions:
            raise Failure("%s has no region [%s]" % (file, name))
        return regions[name]


def check_file(md, sources, fix):
    """Checks (or fixes) one markdown file; returns a list of problems."""
    problems = []
    lines = md.read_text(encoding="utf-8").split("\n")
    out = []
    i = 0
    fence = None  # the fence of a non-C++ block we are inside
    while i < len(lines):
        line = lines[i]
        if fence is not None:
            out.append(line)
            if line.strip().startswith(fence) and line.strip() == fence:
                fence = None
            i += 1
            continue
        cpp = CPP_FENCE.match(line)
        if not cpp:
            other = ANY_FENCE.match(line)
            if other:
                fence = other.group(2)
            elif MARKER.match(line):
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if not CPP_FENCE.match(nxt):
                    problems.append("%s:%d: a snippet marker not followed by "
                                    "a ```cpp fence" % (md, i + 1))
            out.append(line)
            i += 1
            continue
        # A C++ block: find its end.
        indent = cpp.group(1)
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            problems.append("%s:%d: a ```cpp block that never ends"
                            % (md, i + 1))
            out.extend(lines[i:])
            break
        body = [l[len(indent):] if l.startswith(indent) else l.lstrip()
                for l in lines[i + 1:end]]
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        where = "%s:%d" % (md, i + 1)
        if not marker:
            problems.append("%s: a ```cpp block without a snippet marker on "
                            "the line before it" % where)
            out.extend(lines[i:end + 1])
            i = end + 1
            continue
        try:
            region = sources.region(marker.group(1), marker.group(2))
        except Failure as e:
            problems.append("%s: %s" % (where, e))
            out.extend(lines[i:end + 1])
            i = end + 1
            continue
        if body != region:
            if fix:
                print("fixed %s from %s#%s" % (where, marker.group(1),
                                               marker.group(2)))
            else:
                first = next((n for n, (a, b) in
                              enumerate(zip(body, region)) if a != b),
                             min(len(body), len(region)))
                problems.append(
                    "%s: the block differs from %s#%s at its line %d:\n"
                    "    block:  %r\n    region: %r"
                    % (where, marker.group(1), marker.group(2), first + 1,
                       body[first] if first < len(body) else "(end)",
                       region[first] if first < len(region) else "(end)"))
        out.append(line)
        out.extend(indent + l if l else "" for l in (region if fix else body))
        out.append(lines[end])
        i = end + 1
    if fix:
        new = "\n".join(out)
        if new != md.read_text(encoding="utf-8"):
            md.write_text(new, encoding="utf-8")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fix", action="store_true",
                    help="rewrite marked blocks from their regions")
    ap.add_argument("--root", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parent.parent)
    ap.add_argument("files", nargs="*", type=pathlib.Path)
    args = ap.parse_args()
    root = args.root.resolve()
    files = args.files or ([root / "README.md"]
                           + sorted((root / "docs").glob("*.md")))
    sources = Sources(root)
    problems = []
    blocks = 0
    for md in files:
        if not md.is_file():
            problems.append("%s: no such file" % md)
            continue
        blocks += sum(1 for l in md.read_text(encoding="utf-8").split("\n")
                      if CPP_FENCE.match(l))
        problems += check_file(md, sources, args.fix)
    for p in problems:
        print(p)
    if problems:
        print("%d problem(s) in %d C++ block(s) of %d file(s)"
              % (len(problems), blocks, len(files)))
        return 1
    print("ok: %d C++ block(s) in %d file(s), each one a compiled snippet "
          "region" % (blocks, len(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
