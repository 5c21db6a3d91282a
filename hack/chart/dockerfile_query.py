#!/usr/bin/python3
"""Answers questions about the repository's Dockerfile for check-dockerfile.sh.

    dockerfile_query.py DOCKERFILE QUERY [ARGS...]

Queries (the "build" stage is the one the runtime stage copies the executable from, the
"runtime" stage is the last one):
  from build|runtime            the stage's base image
  runtime-packages              packages named by apt-get install in the runtime stage
  build-runs-install-deps       exit 0 if hack/install-deps.sh is copied and run before cmake
  build-cmake-options           the build stage's cmake -G/-D options, one a line
  build-ninja-target TARGET     exit 0 if ninja -C <cmake's -B dir> TARGET runs and the
                                executable copied out comes from that build dir
  runtime-user                  the runtime stage's last USER
  runtime-exec-form             exit 0 if ENTRYPOINT and CMD are JSON arrays and ENTRYPOINT
                                runs a file copied into the stage
  runtime-shell-free            exit 0 if no ENTRYPOINT, CMD or HEALTHCHECK needs a shell
  classic-builder               exit 0 if the classic builder (DOCKER_BUILDKIT=0) can build it:
                                no syntax directive, no BuildKit-only flag or heredoc; else
                                prints what needs BuildKit
  context ROOT DEST             copy the build context that .dockerignore leaves of ROOT to
                                DEST and print its files
"""
import json
import os
import re
import shlex
import shutil
import sys


def parse(path):
    """Returns stages: [{"from": image, "name": alias, "instructions": [(KEYWORD, args)]}]."""
    logical, current = [], ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            stripped = line.strip()
            if not current and (not stripped or stripped.startswith("#")):
                continue
            if current and stripped.startswith("#"):
                continue  # comment lines inside a continued instruction
            if line.rstrip().endswith("\\"):
                current += line.rstrip()[:-1] + " "
                continue
            current += line
            logical.append(current.strip())
            current = ""
    if current.strip():
        logical.append(current.strip())
    stages = []
    for inst in logical:
        keyword, _, args = inst.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            toks = [t for t in args.split() if not t.startswith("--platform")]
            name = toks[2] if len(toks) >= 3 and toks[1].upper() == "AS" else ""
            stages.append({"from": toks[0], "name": name, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((keyword, args))
    if not stages:
        sys.exit("no FROM in the Dockerfile")
    return stages


def run_commands(args):
    """The shell commands of a RUN (flags such as --mount dropped), split at && ; ||."""
    if args.startswith("["):
        try:
            return [json.loads(args)]
        except ValueError:
            return []
    while args.startswith("--"):
        args = args.split(" ", 1)[1].strip() if " " in args else ""
    commands, current = [], []
    for tok in shlex.split(args, posix=True):
        if tok in ("&&", ";", "||", "|"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(tok)
    if current:
        commands.append(current)
    return commands


def copy_from_stage(runtime):
    for kw, args in runtime["instructions"]:
        if kw == "COPY":
            m = re.search(r"--from=(\S+)", args)
            if m:
                rest = [t for t in args.split() if not t.startswith("--")]
                return m.group(1), rest[:-1], rest[-1]
    return None, [], None


def build_stage(stages):
    name, _, _ = copy_from_stage(stages[-1])
    for i, s in enumerate(stages[:-1]):
        if name is not None and (s["name"] == name or str(i) == name):
            return s
    return stages[0] if len(stages) > 1 else None


def cmake_command(stage):
    for kw, args in stage["instructions"]:
        if kw == "RUN":
            for cmd in run_commands(args):
                if cmd and os.path.basename(cmd[0]) == "cmake" and "--build" not in cmd and "--install" not in cmd:
                    return cmd
    return None


def option_value(cmd, flag):
    for i, tok in enumerate(cmd):
        if tok == flag and i + 1 < len(cmd):
            return cmd[i + 1]
        if tok.startswith(flag) and len(tok) > len(flag):
            return tok[len(flag):]
    return None


def norm(path):
    return os.path.normpath(path)


def dockerignore_patterns(root):
    patterns = []
    path = os.path.join(root, ".dockerignore")
    if not os.path.exists(path):
        return patterns
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            exclude = not line.startswith("!")
            pat = line if exclude else line[1:].strip()
            pat = os.path.normpath(pat).lstrip("/")
            patterns.append((exclude, pat, re.compile(glob_regex(pat))))
    return patterns


def glob_regex(pat):
    """Docker's .dockerignore syntax: Go filepath.Match plus ** for any number of dirs."""
    out, i = "", 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pat.startswith("**", i):
            out += ".*"
            i += 2
        elif pat[i] == "*":
            out += "[^/]*"
            i += 1
        elif pat[i] == "?":
            out += "[^/]"
            i += 1
        elif pat[i] == "[":
            j = pat.find("]", i)
            if j < 0:
                out += re.escape(pat[i:])
                break
            cls = pat[i + 1:j]
            out += "[" + ("^" + cls[1:] if cls.startswith("^") else cls) + "]"
            i = j + 1
        else:
            out += re.escape(pat[i])
            i += 1
    return out + "$"


def excluded(rel, patterns):
    """Like moby's patternmatcher: the last pattern matching the path or a parent decides."""
    parents = []
    parts = rel.split("/")
    for n in range(1, len(parts) + 1):
        parents.append("/".join(parts[:n]))
    result = False
    for exclude, _, rx in patterns:
        if any(rx.match(p) for p in parents):
            result = exclude
    return result


def context(root, dest):
    patterns = dockerignore_patterns(root)
    has_exceptions = any(not e for e, _, _ in patterns)
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        reldir = os.path.relpath(dirpath, root)
        reldir = "" if reldir == "." else reldir
        keep = []
        for d in dirnames:
            rel = f"{reldir}/{d}" if reldir else d
            if excluded(rel, patterns) and not (
                    has_exceptions and any(not e and (p.startswith(rel + "/") or "*" in p) for e, p, _ in patterns)):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                filenames.append(d)
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            rel = f"{reldir}/{name}" if reldir else name
            if excluded(rel, patterns):
                continue
            target = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.join(dirpath, name), target, follow_symlinks=False)
            files.append(rel)
    for f in sorted(files):
        print(f)
    return 0


# Flags of RUN, COPY and ADD that only BuildKit knows (the classic builder of Debian's docker.io
# 20.10 stops at them), and heredocs (<<EOF) in RUN, COPY and ADD.
BUILDKIT_FLAGS = {
    "RUN": ("--mount", "--network", "--security"),
    "COPY": ("--link", "--chmod", "--parents", "--exclude"),
    "ADD": ("--link", "--chmod", "--checksum", "--keep-git-dir", "--parents", "--exclude"),
}


def buildkit_only(path):
    """What in the Dockerfile needs BuildKit, one description a line (none: the classic builder)."""
    found = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            stripped = raw.strip()
            if not stripped.startswith("#"):
                break  # parser directives come before anything else
            if re.match(r"^#\s*syntax\s*=", stripped, re.IGNORECASE):
                found.append(f"parser directive: {stripped}")
    for stage in parse(path):
        for kw, args in stage["instructions"]:
            flags = []
            for tok in args.split():
                if not tok.startswith("--"):
                    break
                flags.append(tok.split("=", 1)[0])
            for flag in flags:
                if flag in BUILDKIT_FLAGS.get(kw, ()):
                    found.append(f"{kw} {flag}: {kw} {args[:80]}")
            if kw in BUILDKIT_FLAGS and re.search(r"<<-?[\"']?[A-Za-z_]", args):
                found.append(f"heredoc: {kw} {args[:80]}")
    return found


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path, query, args = argv[1], argv[2], argv[3:]
    if query == "context":
        return context(args[0], args[1])
    if query == "classic-builder":
        found = buildkit_only(path)
        for line in found:
            print(line)
        return 1 if found else 0
    stages = parse(path)
    runtime, build = stages[-1], build_stage(stages)
    if query == "from":
        stage = runtime if args[0] == "runtime" else build
        print(stage["from"] if stage else "")
        return 0
    if query == "runtime-packages":
        for kw, a in runtime["instructions"]:
            if kw != "RUN":
                continue
            for cmd in run_commands(a):
                words = [w for w in cmd if "=" not in w or w.startswith("-")]  # drop VAR=value
                if len(words) >= 2 and os.path.basename(words[0]) in ("apt-get", "apt") and "install" in words:
                    for w in words[words.index("install") + 1:]:
                        if not w.startswith("-"):
                            print(w.split("=")[0])
        return 0
    if build is None:
        print("no build stage")
        return 1
    instructions = build["instructions"]
    if query == "build-runs-install-deps":
        copied = ran = cmake_at = None
        for i, (kw, a) in enumerate(instructions):
            if kw in ("COPY", "ADD") and copied is None and (
                    "hack/install-deps.sh" in a or re.match(r"^(--\S+\s+)*\.\s", a)):
                copied = i
            if kw == "RUN":
                for cmd in run_commands(a):
                    if ran is None and any(t.endswith("hack/install-deps.sh") for t in cmd[:2]):
                        ran = i
                    if cmake_at is None and cmd and os.path.basename(cmd[0]) == "cmake":
                        cmake_at = i
        ok = copied is not None and ran is not None and copied < ran and (cmake_at is None or ran < cmake_at)
        return 0 if ok else 1
    if query == "build-cmake-options":
        cmd = cmake_command(build)
        if not cmd:
            return 1
        i = 0
        while i < len(cmd):
            t = cmd[i]
            if t == "-G" and i + 1 < len(cmd):
                print("-G " + cmd[i + 1])
                i += 2
                continue
            if t.startswith("-G"):
                print("-G " + t[2:])
            elif t.startswith("-D"):
                print(t)
            i += 1
        return 0
    if query == "build-ninja-target":
        cmd = cmake_command(build)
        bdir = option_value(cmd, "-B") if cmd else None
        if not bdir:
            return 1
        workdir = "/"
        for kw, a in instructions:
            if kw == "WORKDIR":
                workdir = os.path.join(workdir, a)
        bdir = norm(os.path.join(workdir, bdir))
        built = ninja_ok = False
        for kw, a in instructions:
            if kw != "RUN":
                continue
            for c in run_commands(a):
                if c and os.path.basename(c[0]) == "ninja" and args[0] in c[1:]:
                    d = option_value(c, "-C")
                    ninja_ok = ninja_ok or (d is not None and norm(os.path.join(workdir, d)) == bdir)
                if any(norm(os.path.join(workdir, t)) == f"{bdir}/controller/{args[0]}" for t in c[1:]):
                    built = True
        _, sources, _ = copy_from_stage(runtime)
        copied = any(norm(s) == f"{bdir}/controller/{args[0]}" for s in sources) or built
        return 0 if ninja_ok and copied else 1
    if query == "runtime-user":
        user = ""
        for kw, a in runtime["instructions"]:
            if kw == "USER":
                user = a
        print(user)
        return 0
    if query == "runtime-exec-form":
        found = {}
        for kw, a in runtime["instructions"]:
            if kw in ("ENTRYPOINT", "CMD"):
                found[kw] = a
        parsed = {}
        for kw in ("ENTRYPOINT", "CMD"):
            if kw not in found:
                print(f"no {kw}")
                return 1
            try:
                value = json.loads(found[kw])
            except ValueError:
                print(f"{kw} is shell form: {found[kw]}")
                return 1
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
                print(f"{kw} is not a JSON array of strings: {found[kw]}")
                return 1
            parsed[kw] = value
        _, _, dest = copy_from_stage(runtime)
        if dest is None or norm(parsed["ENTRYPOINT"][0]) != norm(dest):
            print(f"ENTRYPOINT runs {parsed['ENTRYPOINT'][0]}, but the executable is copied to {dest}")
            return 1
        print(f"ENTRYPOINT {json.dumps(parsed['ENTRYPOINT'])} CMD {json.dumps(parsed['CMD'])}")
        return 0
    if query == "runtime-shell-free":
        for kw, a in runtime["instructions"]:
            if kw in ("ENTRYPOINT", "CMD") and not a.startswith("["):
                return 1
            if kw == "HEALTHCHECK" and " CMD " in f" {a} " and not re.search(r"\bCMD\s+\[", a):
                return 1
        return 0
    sys.exit(f"unknown query {query}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
