/* Minimal bridge from the LAMMPS plugin to CPython.

   Two situations are handled:
   * LAMMPS runs as the `lmp` program: no interpreter exists yet, so one is embedded, configured
     to be the interpreter of the virtual environment the plugin is installed in (so that its
     site-packages, numpy, numba and lammps_quests are found). The GIL is released right after
     initialisation.
   * LAMMPS runs inside a Python process (lammps.lammps()): that interpreter is used; ctypes has
     released the GIL while LAMMPS runs, so it can be taken again.
   Every call into Python holds the GIL (PyGILState_Ensure/Release). The fix sees only the typed
   calls below: no Python object crosses into it. */

#ifndef LMP_QUESTS_PYTHON_BRIDGE_H
#define LMP_QUESTS_PYTHON_BRIDGE_H

#include <string>
#include <vector>

namespace QuestsPython {

// What the Python side returns when a fix opens (lammps_quests.lammps._bridge.open_fix).
struct FixSetup {
  double cutoff = 0.0;        // descriptor cutoff, Angstrom (the ghost cutoff must reach it)
  std::string reductions;     // one letter per partial statistic: 'm' max, 's' sum over ranks
  int size_vector = 0;        // length of the fix's global vector
  std::string log;            // setup line for the log (rank 0 prints it)
};

// What to do after one evaluation (lammps_quests.lammps._bridge.finish).
struct Outcome {
  std::vector<double> values;    // the fix's global vector
  int halt = 0;                  // 0 go on, 1 end the run (soft), 2 error (hard)
  std::string log;               // text for the log (rank 0), printed before any error
  std::string warning;           // a warning (rank 0), empty if none
  std::string error;             // halt = 2: the halt message, the ERROR line on its own
};

// This rank's atoms as LAMMPS holds them (owned first, then ghosts), handed to Python as
// buffers over LAMMPS's own arrays: nothing is copied, and Python writes dH straight into `dh`.
// Valid for one call (LAMMPS may reallocate its arrays afterwards).
struct AtomsView {
  int nlocal = 0, nghost = 0;
  const double *x = nullptr;       // (nlocal + nghost) x 3 positions, Angstrom, row-major
  const int *type = nullptr;       // nlocal + nghost atom types
  const void *tag = nullptr;       // nlocal + nghost atom ids (tagint)
  int tag_bytes = 4;               // sizeof(tagint): 4 or 8
  const int *mask = nullptr;       // nlocal group bitmasks
  double *dh = nullptr;            // nlocal: the fix's per-atom vector, nats (written)
  double boxlo[3] = {0, 0, 0}, boxhi[3] = {0, 0, 0};    // Angstrom
  double tilt[3] = {0, 0, 0};      // xy, xz, yz, Angstrom (0 for an orthogonal box)
  int periodic[3] = {1, 1, 1};
  long long step = 0;
  std::string units;               // LAMMPS unit style
  int ntypes = 0;
  const double *mass = nullptr;    // ntypes + 1 type masses (g/mol), null with per-atom masses
};

// The whole frame, gathered with MPI by the fix on every rank (rank by rank), for `save`.
struct Frame {
  std::vector<long long> tag;
  std::vector<int> type, mask;
  std::vector<double> x;     // 3 per atom, Angstrom
  std::vector<double> dh;    // nats
};

// An error message of the package's own input errors (a Python ValueError: keyword, file,
// setting) starts with this mark; such a message is complete on its own. strip_input_mark()
// removes the mark and says whether it was there.
extern const char INPUT_ERROR_MARK;
bool strip_input_mark(std::string &message);

// Typed calls into lammps_quests.lammps._bridge. `lmp` is the LAMMPS* (passed as an address,
// the sessions' key; Python never dereferences it); each returns "" on
// success, else a one-line message (no traceback): "ExceptionType: message", or the marked
// message alone for an input error (see strip_input_mark). They take the GIL
// themselves; the first one starts the interpreter if needed.
std::string open_fix(void *lmp, const std::string &fix_id, const std::string &group,
                     const std::string &reference, const std::vector<std::string> &words,
                     int rank, int ntypes, const double *mass, FixSetup &setup);
std::string evaluate(void *lmp, const std::string &fix_id, int groupbit, int nthreads,
                     const AtomsView &atoms, std::vector<double> &partials);
std::string wants_frame(void *lmp, const std::string &fix_id, long long step,
                        const std::vector<double> &reduced, int &wanted);
std::string finish(void *lmp, const std::string &fix_id, long long step,
                   const std::vector<double> &reduced, const Frame *frame, Outcome &outcome);
std::string report(void *lmp, const std::string &fix_id, std::string &text);
void close_fix(void *lmp, const std::string &fix_id);

}    // namespace QuestsPython

#endif
