#!/usr/bin/env bash
# The Spack recipe (Spack/packages/ril/package.py) parses as Python and depends on every package
# the CMake build looks for (cmake/RilDependencies.cmake), with the CUDA ones under +cuda.
# Spack itself is not installed here: the file is read with Python's ast module.
set -u
repo=${RIL_SOURCE_DIR:?set RIL_SOURCE_DIR to the repository root}
/usr/bin/python3 - "$repo" <<'PY'
import ast, re, sys
repo = sys.argv[1]
source = open(f"{repo}/Spack/packages/ril/package.py").read()
tree = ast.parse(source)  # a syntax error fails here
deps = {}
for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "depends_on" and node.args:
        arg = node.args[0]
        spec = arg.value if isinstance(arg, ast.Constant) else ast.unparse(arg)
        when = next((ast.unparse(k.value) for k in node.keywords if k.arg == "when"), "")
        deps.setdefault(re.split(r"[@+~ ]", spec.strip("f'\""))[0], []).append(when)
cmake = open(f"{repo}/cmake/RilDependencies.cmake").read()
found = set(re.findall(r"find_package\((\w+)", cmake)) | {"PCRE2" if "pcre2" in cmake else "", "stb"}
found |= {"CUDAToolkit", "NCCL"} if "nccl" in cmake.lower() else set()
# CMake name -> Spack package
spack_name = {"Torch": "py-torch", "MPI": "mpi", "HDF5": "hdf5", "Boost": "boost", "nlohmann_json": "nlohmann-json",
              "GTest": "googletest", "PCRE2": "pcre2", "stb": "stb", "NCCL": "nccl", "Threads": None, "CUDAToolkit": None}
failures = 0
for name in sorted(n for n in found if n):
    if name not in spack_name:
        print(f"FAIL: CMake looks for {name}, which this test does not map to a Spack package"); failures += 1; continue
    pkg = spack_name[name]
    if pkg is None:
        print(f"ok: {name} needs no package (system or CudaPackage)"); continue
    if pkg not in deps:
        print(f"FAIL: package.py has no depends_on('{pkg}') for CMake's {name}"); failures += 1; continue
    print(f"ok: {name} -> depends_on('{pkg}')", "when " + ",".join(w for w in deps[pkg] if w) if any(deps[pkg]) else "")
for required in ["cmake", "py-torch"]:
    if required not in deps:
        print(f"FAIL: no depends_on('{required}')"); failures += 1
if not any("+cuda" in w for w in deps.get("nccl", [])):
    print("FAIL: nccl must depend on +cuda"); failures += 1
if not any("cuda_arch" in w for w in deps.get("py-torch", [])):
    print("FAIL: py-torch must get cuda_arch propagated under +cuda"); failures += 1
for needed in ["class Ril(CMakePackage, CudaPackage)", "def cmake_args", 'version("main", branch="main")', 'variant("nccl"']:
    if needed not in source:
        print(f"FAIL: package.py lacks {needed}"); failures += 1
print(f"{len(found) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
PY
