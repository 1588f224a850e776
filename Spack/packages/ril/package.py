# Spack package for ril. Checked with Spack 0.23.1 (builtin repository) and Spack 1.1.0 with
# spack-packages v2025.11.0 (Spack/README.md has the commands and what they concretized to):
#   spack repo add ./Spack                 # from a ril checkout: this repo (namespace ril)
#   spack install ril                      # CPU build: LibTorch from py-torch~cuda
#   spack install ril +cuda cuda_arch=90   # GPU build: py-torch+cuda and nccl for sm_90 (H100)
import re

from spack.package import *


class Ril(CMakePackage, CudaPackage):
    """Unified Reinforcement and Imitation Learning (RIL) for small vision-language models:
    an MPI batch application in C++ (LibTorch, OpenMPI, NCCL + CUDA, HDF5)."""

    homepage = "https://github.com/ril-project/ril"
    # The repository this recipe fetches from; point it at your fork or mirror if you install
    # from another one (or use `spack develop` on a local checkout, see Spack/README.md).
    git = "https://github.com/ril-project/ril.git"

    license("Apache-2.0")  # LICENSE at the repository root

    version("main", branch="main")
    # A release is a tag plus the commit it must resolve to: Spack checks out the tag and refuses
    # it if it is not that commit (git versions have no tarball checksum; this is their check).
    version("0.1.0", tag="v0.1.0", commit="bd8dea764c010af9424a2a97bb8c2e7dffeda461")

    generator("ninja")

    depends_on("c", type="build")  # FindHDF5 needs the C compiler
    depends_on("cxx", type="build")
    depends_on("cmake@3.22:", type="build")

    depends_on("mpi")  # the MPI C API only (MPI-3.1); tested with OpenMPI 4.1 and its mpirun
    depends_on("hdf5@1.10:~mpi")  # serial HDF5: one rank writes each file; C API of 1.10 to 1.14
    depends_on("boost@1.74:+program_options")
    depends_on("nlohmann-json@3:")
    depends_on("pcre2")
    depends_on("stb")  # Spack/packages/stb: Spack's builtin repository has none
    depends_on("googletest", type="test")

    # LibTorch comes from py-torch, which installs the C++ library and its CMake config
    # (<prefix>/lib/pythonX.Y/site-packages/torch/share/cmake/Torch).
    depends_on("py-torch@1.13:")
    depends_on("py-torch~cuda", when="~cuda")
    depends_on("py-torch+cuda", when="+cuda")
    # The CUDA build always has the NCCL communicator (ranks on distinct GPUs); py-torch and nccl
    # are CUDA packages and are built for the same GPU architectures as ril.
    depends_on("nccl", when="+cuda")
    for _arch in CudaPackage.cuda_arch_values:
        depends_on(f"py-torch+cuda cuda_arch={_arch}", when=f"+cuda cuda_arch={_arch}")
        depends_on(f"nccl cuda_arch={_arch}", when=f"+cuda cuda_arch={_arch}")
    conflicts(
        "cuda_arch=none",
        when="+cuda",
        msg="ril+cuda needs the GPU architecture, e.g. cuda_arch=80 (A100) or cuda_arch=90 (H100)",
    )

    def cmake_args(self):
        spec = self.spec
        # As builtin packages that build on LibTorch do: py-torch exposes <platlib>/torch/share/cmake.
        torch_cmake = spec["py-torch"].package.cmake_prefix_paths[0]
        args = [
            self.define("RIL_CUDA", spec.satisfies("+cuda")),
            self.define("RIL_BUILD_TESTS", self.run_tests),
            self.define("RIL_BUILD_BENCH", False),
            self.define("Torch_DIR", join_path(torch_cmake, "Torch")),
            self.define("PCRE2_ROOT", spec["pcre2"].prefix),
            self.define("STB_INCLUDE_DIR", spec["stb"].prefix.include.stb),
            # Where FindMPI looks for mpiexec/mpirun (only the tests run it); a build of an MPI
            # without a launcher (Slurm-only, srun) simply has none.
            self.define("MPI_HOME", spec["mpi"].prefix),
        ]
        if spec.satisfies("+cuda"):
            args.append(self.define("NCCL_ROOT", spec["nccl"].prefix))
            # ril compiles no CUDA code of its own (it links cudart and NCCL); LibTorch's CMake
            # config reads the architectures from TORCH_CUDA_ARCH_LIST ("9.0", not "90").
            archs = [a for a in spec.variants["cuda_arch"].value if a != "none"]
            args.append(self.define("TORCH_CUDA_ARCH_LIST", ";".join(map(self.torch_arch, archs))))
        return args

    @staticmethod
    def torch_arch(cuda_arch):
        """Spack's cuda_arch (80, 90a, 100) in LibTorch's notation (8.0, 9.0a, 10.0)."""
        major, minor, suffix = re.match(r"^(\d+)(\d)([a-z]?)$", cuda_arch).groups()
        return f"{major}.{minor}{suffix}"

    def check(self):
        with working_dir(self.build_directory):
            ctest("--output-on-failure")
