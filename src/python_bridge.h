/* Minimal bridge from the LAMMPS plugin to CPython.

   Two situations are handled:
   * LAMMPS runs as the `lmp` program: no interpreter exists yet, so one is embedded, configured
     to be the interpreter of the virtual environment the plugin is installed in (so that its
     site-packages, numpy, numba and lammps_quests are found). The GIL is released right after
     initialisation.
   * LAMMPS runs inside a Python process (lammps.lammps()): that interpreter is used; ctypes has
     released the GIL while LAMMPS runs, so it can be taken again.
   Every call into Python holds the GIL through a GilGuard (PyGILState_Ensure/Release). */

#ifndef LMP_QUESTS_PYTHON_BRIDGE_H
#define LMP_QUESTS_PYTHON_BRIDGE_H

#include <string>

typedef struct _object PyObject;

namespace QuestsPython {

// Start (or reuse) the interpreter. Returns "" on success, else a readable error message.
std::string ensure_interpreter();

// Holds the GIL for its lifetime.
class GilGuard {
 public:
  GilGuard();
  ~GilGuard();
  GilGuard(const GilGuard &) = delete;
  GilGuard &operator=(const GilGuard &) = delete;

 private:
  int state;
};

// Result of a call into Python: a new reference (or nullptr) and, on failure, the message of
// the Python exception formatted as "ExceptionType: message" (no traceback).
struct CallResult {
  PyObject *value = nullptr;
  std::string error;
  bool ok() const { return error.empty(); }
};

// Import `module` and return a new reference to its attribute `name`. Caller holds the GIL.
CallResult lookup(const char *module, const char *name);

// Fetch and clear the pending Python exception as a one-line message. Caller holds the GIL.
std::string fetch_error();

// Owned reference released under the GIL (if the interpreter is still alive).
void release(PyObject *&object);

}    // namespace QuestsPython

#endif
