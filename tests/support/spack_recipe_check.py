#!/usr/bin/env python3
"""Checks ril's Spack repository (Spack/) without Spack: plain Python 3, its ast module.

1. Every package named by a directive of a recipe in Spack/packages (depends_on, and ^name in any
   spec or when= string) exists in Spack's builtin repository of every release recorded under
   tests/fixtures/spack/builtin-packages-*.txt (the names Spack itself lists there: packages and
   virtuals), or in our own repository (Spack/packages/<name>). Nothing else counts as known.
2. Every package the CMake build looks for (cmake/RilDependencies.cmake) is a dependency of ril.
3. The points of issue 14 stay settled: CUDA packages get cuda_arch, ninja only with
   generator("ninja"), no CMAKE_CUDA_ARCHITECTURES without CUDA sources, no hard-coded mpiexec,
   no variant that cannot be switched off, a license() that matches LICENSE, a version other than
   a branch (whose commit, in a git checkout, exists and has the same project VERSION), repo.yaml
   with a Package API version, and a README that names the Spack releases checked.

Usage: spack_recipe_check.py <repository root> [--spack-dir DIR]   (DIR defaults to <root>/Spack)
"""
import ast
import glob
import os
import re
import subprocess
import sys

args = sys.argv[1:]
if not args:
    sys.exit(__doc__)
root = args[0]
spack_dir = args[args.index("--spack-dir") + 1] if "--spack-dir" in args else os.path.join(root, "Spack")
fixture_dir = os.path.join(root, "tests", "fixtures", "spack")

failures = []
passed = 0


def check(ok, message):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(message)
        print(f"FAIL: {message}")
    return ok


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- the recorded builtin repositories -------------------------------------------------------
releases = {}  # fixture file name -> (header, {name: set of flags})
for path in sorted(glob.glob(os.path.join(fixture_dir, "builtin-packages-*.txt"))):
    header, names = "", {}
    for line in read(path).splitlines():
        if line.startswith("#"):
            header = header or line.lstrip("# ").strip()
            continue
        if line.strip():
            name, *flags = line.split()
            names[name] = set(flags)
    releases[os.path.basename(path)] = (header, names)
if not check(releases, f"no recorded builtin package list in {fixture_dir}"):
    sys.exit(1)
for fname, (header, names) in releases.items():
    print(f"builtin list {fname}: {len(names)} names; {header}")
    check(len(names) > 1000 and "commit" in header, f"{fname}: expected >1000 names and a header naming the commit")

# ---- our repository ---------------------------------------------------------------------------
repo_yaml = read(os.path.join(spack_dir, "repo.yaml"))
check(re.search(r"^\s+namespace:\s*\w+", repo_yaml, re.M), "repo.yaml has no namespace")
check(re.search(r"^\s+api:\s*v\d+\.\d+", repo_yaml, re.M), "repo.yaml has no Package API version (api: vX.Y)")
recipes = {os.path.basename(os.path.dirname(p)): p for p in glob.glob(os.path.join(spack_dir, "packages", "*", "package.py"))}
check("ril" in recipes, f"no ril recipe in {spack_dir}/packages")
print(f"our repository {spack_dir}: {', '.join(sorted(recipes))}")


def literal_prefix(node):
    """The literal text of a string or the leading literal part of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


def spec_names(text):
    """Package names in a spec string: the leading name and every ^name."""
    names = re.findall(r"\^\s*([A-Za-z0-9][\w.-]*)", text)
    lead = re.match(r"\s*([A-Za-z0-9][\w-]*)", text)
    return ([lead.group(1)] if lead else []) + names


def directives(tree, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == name:
            yield node


def keyword(node, key):
    return next((literal_prefix(k.value) or ast.unparse(k.value) for k in node.keywords if k.arg == key), "")


parsed = {}
for pkg, path in sorted(recipes.items()):
    source = read(path)
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        check(False, f"{path} does not parse: {e}")
        continue
    deps = []  # (name, spec text, when)
    referenced = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = getattr(node.func, "id", "")
        texts = [literal_prefix(a) for a in node.args] + [literal_prefix(k.value) for k in node.keywords]
        if func == "depends_on" and node.args:
            spec = literal_prefix(node.args[0]) or ""
            names = spec_names(spec)
            check(names, f"{pkg}: depends_on({ast.unparse(node.args[0])}) names no package")
            if names:
                deps.append((names[0], spec, keyword(node, "when")))
            referenced.update(names)
        for text in texts:  # ^name in any spec or when= string of any directive
            if text and func in ("depends_on", "conflicts", "requires", "variant", "patch", "license"):
                referenced.update(re.findall(r"\^\s*([A-Za-z0-9][\w.-]*)", text))
    parsed[pkg] = (source, tree, deps)

    # 1. every name exists in each recorded release, or is ours
    for name in sorted(referenced):
        if name in recipes:
            clash = [f for f, (_, names) in releases.items() if name in names]
            print(f"ok: {pkg} -> {name} (ours" + (f"; note: builtin has it too in {', '.join(clash)}, "
                                                   "ours is used while our repository comes first)" if clash else ")"))
            check(True, "")
            continue
        missing = [f for f, (_, names) in releases.items() if name not in names]
        if check(not missing, f"{pkg} depends on '{name}', which Spack's builtin repository does not have "
                              f"({', '.join(missing)}) and our repository does not provide"):
            kinds = {k for _, names in releases.values() for k in names[name]}
            print(f"ok: {pkg} -> {name} ({', '.join(sorted(kinds)) or 'builtin'})")

if "ril" not in parsed:
    sys.exit(1)
source, tree, deps = parsed["ril"]
dep_names = {d[0] for d in deps}

# 2. the CMake build's packages are dependencies ------------------------------------------------
cmake = read(os.path.join(root, "cmake", "RilDependencies.cmake"))
cmake_all = cmake + read(os.path.join(root, "CMakeLists.txt"))
wanted = set(re.findall(r"^\s*find_package\((\w+)", cmake, re.M))
wanted |= {f"<{h}>" for h in re.findall(r"find_path\(\w+\s+([\w.]+)", cmake)}
wanted |= {f"lib:{lib}" for lib in re.findall(r"find_library\(\w+\s+(?:NAMES\s+)?([\w-]+)", cmake)}
# CMake's names for them -> Spack package (None: nothing to depend on; "cuda": CudaPackage's).
cmake_to_spack = {"Torch": "py-torch", "MPI": "mpi", "HDF5": "hdf5", "Boost": "boost",
                  "nlohmann_json": "nlohmann-json", "GTest": "googletest", "Threads": None,
                  "CUDAToolkit": "cuda", "<pcre2.h>": "pcre2", "lib:pcre2-8": "pcre2",
                  "<stb_image.h>": "stb", "<nccl.h>": "nccl", "lib:nccl": "nccl"}
cuda_package = "CudaPackage" in source
for name in sorted(wanted):
    if not check(name in cmake_to_spack, f"CMake looks for {name}, which this test does not map to a Spack package"):
        continue
    pkg = cmake_to_spack[name]
    if pkg is None or (pkg == "cuda" and cuda_package):
        print(f"ok: CMake's {name} needs no depends_on ({'CudaPackage' if pkg else 'system'})")
        continue
    if check(pkg in dep_names, f"ril has no depends_on('{pkg}') for CMake's {name}"):
        print(f"ok: CMake's {name} -> depends_on('{pkg}')")

# 3. the points of issue 14 ---------------------------------------------------------------------
# CUDA packages (the recorded lists flag them: a cuda_arch variant) depended on under +cuda must
# get ril's cuda_arch, or they are built for no GPU (nccl's cuda_arch=none).
cuda_pkgs = {n for _, names in releases.values() for n, flags in names.items() if "cuda_arch" in flags}
for name in sorted(dep_names & cuda_pkgs):
    under_cuda = [d for d in deps if d[0] == name and "+cuda" in d[2]]
    if under_cuda:
        check(any("cuda_arch=" in d[1] and "cuda_arch=" in d[2] for d in under_cuda),
              f"{name} is a CUDA package (cuda_arch variant): depends_on it with cuda_arch={{arch}} "
              "when +cuda cuda_arch={arch}, as for every arch in CudaPackage.cuda_arch_values")
generators = [literal_prefix(a) for n in directives(tree, "generator") for a in n.args]
check("ninja" not in dep_names or "ninja" in generators,
      "depends_on('ninja') without generator('ninja'): CMake would still generate Makefiles")
enables_cuda = re.search(r"enable_language\(\s*CUDA|LANGUAGES[^)]*\bCUDA\b|project\([^)]*\bCUDA\b", cmake_all)
check("CMAKE_CUDA_ARCHITECTURES" not in source or enables_cuda,
      "CMAKE_CUDA_ARCHITECTURES is passed, but the project enables no CUDA language (LibTorch reads TORCH_CUDA_ARCH_LIST)")
check("MPIEXEC_EXECUTABLE" not in source, "MPIEXEC_EXECUTABLE is hard-coded; let FindMPI find the launcher (MPI_HOME)")
for v in directives(tree, "variant"):
    var = literal_prefix(v.args[0]) if v.args else None
    for c in directives(tree, "conflicts"):
        if c.args and literal_prefix(c.args[0]) == f"~{var}" and keyword(c, "when") == keyword(v, "when"):
            check(False, f"variant '{var}' can never be off (conflicts('~{var}') under the same condition)")
licenses = [literal_prefix(n.args[0]) for n in directives(tree, "license") if n.args]
license_file = os.path.join(root, "LICENSE")
if check(licenses, "ril declares no license()") and check(os.path.isfile(license_file), "no LICENSE file at the repository root"):
    text = " ".join(read(license_file).split())
    known = {"Apache-2.0": ["Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE"]}
    for lic in licenses:
        if check(lic in known, f"license('{lic}'): this test does not know that license's text"):
            check(all(k in text for k in known[lic]), f"license('{lic}') but LICENSE is not that license's text")
versions = list(directives(tree, "version"))
released = [v for v in versions if any(k.arg in ("sha256", "commit", "tag") for k in v.keywords)]
check(released, "ril has no version from a tag or a checksummed tarball (only branches)")
project_version = re.search(r"project\(ril VERSION ([\d.]+)", read(os.path.join(root, "CMakeLists.txt")))
is_git = subprocess.run(["git", "-C", root, "rev-parse", "--git-dir"], capture_output=True).returncode == 0
# A shallow clone (CI may clone with --depth 1) lacks older commits: it cannot say whether a
# released commit exists, so that check needs the full history.
is_shallow = is_git and subprocess.run(["git", "-C", root, "rev-parse", "--is-shallow-repository"],
                                       capture_output=True, text=True).stdout.strip() == "true"
for v in released:
    ver, commit, tag = literal_prefix(v.args[0]), keyword(v, "commit"), keyword(v, "tag")
    if tag or commit:
        check(re.fullmatch(r"[0-9a-f]{40}", commit or ""), f"version {ver}: a tag needs commit=<40 hex> for Spack to verify it")
    if commit and is_shallow:
        print(f"note: shallow clone, version {ver}'s commit not checked (fetch the full history to check it)")
    elif commit and is_git and re.fullmatch(r"[0-9a-f]{40}", commit):
        have = subprocess.run(["git", "-C", root, "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True).returncode == 0
        if check(have, f"version {ver}: commit {commit} is not in this repository's history"):
            cml = subprocess.run(["git", "-C", root, "show", f"{commit}:CMakeLists.txt"], capture_output=True, text=True).stdout
            at = re.search(r"project\(ril VERSION ([\d.]+)", cml)
            check(at and at.group(1) == ver, f"version {ver}: CMakeLists.txt at {commit[:12]} says VERSION {at and at.group(1)}")
            print(f"ok: version {ver} is commit {commit[:12]} (project VERSION {at and at.group(1)})")
        if tag:
            tagged = subprocess.run(["git", "-C", root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}"],
                                    capture_output=True, text=True).stdout.strip()
            if tagged:
                check(tagged == commit, f"version {ver}: tag {tag} is {tagged[:12]}, the recipe says {commit[:12]}")
            else:
                print(f"note: tag {tag} is not in this checkout: create it at {commit[:12]} "
                      f"(git tag -a {tag} {commit[:12]}) where the recipe's `git` repository is published")
    elif commit and not is_git:
        print(f"note: not a git checkout, version {ver}'s commit not checked")
readme = read(os.path.join(root, "README.md"))
for fname, (header, _) in releases.items():
    release = re.search(r"(v\d{4}\.\d+\.\d+|v\d+\.\d+\.\d+)", header)
    check(release and release.group(1).lstrip("v") in readme, f"README.md does not name the Spack release checked ({fname})")
check("spack repo add ./Spack" in readme, "README.md lacks the command `spack repo add ./Spack`")

print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
