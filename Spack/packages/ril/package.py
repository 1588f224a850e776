# Spack package for ril. Use it with:
#   spack repo add <ril checkout>/Spack
#   spack install ril                       # CPU build
#   spack install ril +cuda cuda_arch=90    # GPU build: CUDA LibTorch (py-torch+cuda) and NCCL
from spack.package import *


class Ril(CMakePackage, CudaPackage):
    """Unified Reinforcement and Imitation Learning (RIL) for small vision-language models:
    an MPI batch application in C++ (LibTorch, OpenMPI, NCCL + CUDA, HDF5)."""

    homepage = "https://github.com/ril-project/ril"
    # Point this at the repository you install from (your fork or mirror).
    git = "https://github.com/ril-project/ril.git"

    maintainers("ril-project")
    license("Apache-2.0")

    version("main", branch="main")

    variant("nccl", default=True, when="+cuda",
            description="NCCL communicator between ranks on distinct GPUs")
    conflicts("~nccl", when="+cuda", msg="ril's CUDA build needs NCCL for its GPU communicator")

    depends_on("cxx", type="build")
    depends_on("c", type="build")  # FindHDF5 needs the C compiler
    depends_on("cmake@3.22:", type="build")
    depends_on("ninja", type="build")

    depends_on("mpi")
    depends_on("hdf5@1.10:~mpi")  # serial HDF5: one rank writes each file
    depends_on("boost@1.74:+program_options")
    depends_on("nlohmann-json@3:")
    depends_on("pcre2")
    depends_on("stb")
    depends_on("googletest", type="test")

    # LibTorch comes from py-torch, which installs the C++ library and its CMake config
    # (<prefix>/lib/pythonX.Y/site-packages/torch/share/cmake/Torch).
    depends_on("py-torch@1.13:")
    depends_on("py-torch~cuda", when="~cuda")
    depends_on("py-torch+cuda", when="+cuda")
    for _arch in CudaPackage.cuda_arch_values:
        depends_on(f"py-torch+cuda cuda_arch={_arch}", when=f"+cuda cuda_arch={_arch}")
    depends_on("nccl", when="+cuda+nccl")

    def cmake_args(self):
        spec = self.spec
        # As builtin packages that build on LibTorch do: py-torch exposes <platlib>/torch/share/cmake.
        torch_cmake = spec["py-torch"].package.cmake_prefix_paths[0]
        args = [
            self.define("RIL_CUDA", "ON" if spec.satisfies("+cuda") else "OFF"),
            self.define("RIL_BUILD_TESTS", self.run_tests),
            self.define("Torch_DIR", join_path(torch_cmake, "Torch")),
            self.define("PCRE2_ROOT", spec["pcre2"].prefix),
            self.define("CMAKE_INCLUDE_PATH", spec["stb"].prefix.include),
            self.define("MPIEXEC_EXECUTABLE", join_path(spec["mpi"].prefix.bin, "mpirun")),
        ]
        if spec.satisfies("+cuda"):
            args.append(self.define("NCCL_ROOT", spec["nccl"].prefix))
            archs = spec.variants["cuda_arch"].value
            if archs and archs[0] != "none":
                args.append(self.define("CMAKE_CUDA_ARCHITECTURES", ";".join(archs)))
        return args

    def check(self):
        with working_dir(self.build_directory):
            ctest("--output-on-failure")
