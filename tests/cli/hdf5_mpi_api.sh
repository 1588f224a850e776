#!/usr/bin/env bash
# Every HDF5 and MPI name in ril's C++ is one checked against HDF5 1.10 and 1.14 and OpenMPI 4.1 and
# 5 (tests/fixtures/api/hdf5-mpi-checked.txt): CI builds only against Debian's HDF5 1.10 and
# OpenMPI 4.1, while Spack builds ril against HDF5 1.14 and OpenMPI 5, so a new call must be checked
# by hand, and the calls whose default signature changed in HDF5 1.12 are refused outright.
set -u
repo=${RIL_SOURCE_DIR:?set RIL_SOURCE_DIR to the repository root}
/usr/bin/python3 - "$repo" <<'PY'
import os, re, sys
repo = sys.argv[1]
listed = {}
for line in open(f"{repo}/tests/fixtures/api/hdf5-mpi-checked.txt"):
    name = line.split("#")[0].strip()
    if name:
        listed[name] = line
refused = re.compile(r"^(H5Oget_info\w*|H5Ovisit\w*|H5Lget_info\w*|H5Lvisit\w*|H5Literate_by_name\w*|H5Fget_info\w*"
                     r"|H5Sencode\w*|H5Rcreate\w*|H5Rdereference\w*|H5Rget_obj_type\w*|H5O_info_t|H5L_info2_t)$")
used = {}
for top in ["src", "include", "tests", "bench", "data_prep"]:
    for d, _, files in os.walk(f"{repo}/{top}"):
        for f in files:
            if not f.endswith((".cpp", ".h", ".hpp", ".cc")):
                continue
            path = os.path.join(d, f)
            text = open(path, encoding="utf-8", errors="replace").read()
            text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
            text = re.sub(r"//[^\n]*", " ", text)
            for name in re.findall(r"\b(?:H5[A-Za-z]\w*|MPI_[A-Za-z]\w*)", text):
                used.setdefault(name, os.path.relpath(path, repo))
failed = 0
for name in sorted(used):
    if refused.match(name):
        print(f"FAIL: {name} ({used[name]}): its signature differs between HDF5 1.10 and 1.14; use an API present in both")
        failed += 1
    elif name not in listed:
        print(f"FAIL: {name} ({used[name]}) is not in tests/fixtures/api/hdf5-mpi-checked.txt: check it against "
              "HDF5 1.10 and 1.14 / OpenMPI 4.1 and 5, then list it")
        failed += 1
unused = sorted(set(listed) - set(used))
if unused:
    print(f"note: listed but no longer used: {' '.join(unused)}")
print(f"{len(used) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
