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

// What the Python side returns when a fix opens (lammps_quests.lammps.bridge.open_fix).
struct FixSetup {
  double cutoff = 0.0;        // descriptor cutoff, Angstrom (the ghost cutoff must reach it)
  std::string reductions;     // one letter per partial statistic: 'm' max, 's' sum over ranks
  int size_vector = 0;        // length of the fix's global vector
  std::string log;            // setup line for the log (rank 0 prints it)
};

// What to do after one evaluation (lammps_quests.lammps.bridge.finish).
struct Outcome {
  std::vector<double> values;    // the fix's global vector
  int halt = 0;                  // 0 go on, 1 end the run (soft), 2 error (hard)
  std::string log;               // text for the log (rank 0), printed before any error
  std::string warning;           // a warning (rank 0), empty if none
  std::string error;             // halt = 2: the halt message, the ERROR line on its own
};

// An error message of the package's own input errors (a Python ValueError: keyword, file,
// setting) starts with this mark; such a message is complete on its own. strip_input_mark()
// removes the mark and says whether it was there.
extern const char INPUT_ERROR_MARK;
bool strip_input_mark(std::string &message);

// Typed calls into lammps_quests.lammps.bridge. `lmp` is the LAMMPS*; each returns "" on
// success, else a one-line message (no traceback): "ExceptionType: message", or the marked
// message alone for an input error (see strip_input_mark). They take the GIL
// themselves; the first one starts the interpreter if needed.
std::string open_fix(void *lmp, const std::string &fix_id, const std::string &group,
                     const std::string &reference, const std::vector<std::string> &words,
                     FixSetup &setup);
std::string evaluate(void *lmp, const std::string &fix_id, int groupbit, int nthreads,
                     std::vector<double> &partials);
std::string finish(void *lmp, const std::string &fix_id, long long step,
                   const std::vector<double> &reduced, Outcome &outcome);
std::string report(void *lmp, const std::string &fix_id, std::string &text);
void close_fix(void *lmp, const std::string &fix_id);

}    // namespace QuestsPython

#endif
