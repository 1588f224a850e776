# stb (github.com/nothings/stb) for ril: Spack's builtin repository has no stb package (checked:
# Spack v0.23.1 and spack-packages v2025.11.0, v2026.06.0; see Spack/README.md), and ril compiles
# stb_image, stb_image_write and stb_image_resize (the v1 resizer, which upstream moved to
# deprecated/ in 2023). This recipe installs the headers the way Debian's libstb-dev does,
# <prefix>/include/stb/stb_*.h, from the same upstream commit as Debian 12's libstb-dev
# (0.0~git20220908.8b5f1f3), the version ril is built and tested with.
from spack.package import *


class Stb(Package):
    """stb: single-file public-domain (or MIT) libraries for C/C++. Header-only; installed as
    <prefix>/include/stb/stb_*.h, as Debian's libstb-dev lays them out."""

    homepage = "https://github.com/nothings/stb"
    git = "https://github.com/nothings/stb.git"

    license("MIT OR Unlicense")

    # stb has no releases; versions are upstream commits, named by their date. A git version with
    # a full commit hash needs no checksum: the fetched commit is the hash.
    version("2022-09-08", commit="8b5f1f37b5b75829fc72d38e7b5d4bcbf8a26d55")

    def install(self, spec, prefix):
        mkdirp(prefix.include.stb)
        for header in find(".", "stb*.h", recursive=False):
            install(header, prefix.include.stb)
