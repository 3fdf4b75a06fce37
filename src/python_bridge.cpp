#include "python_bridge.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

bool is_file(const std::string &path)
{
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string parent(const std::string &path)
{
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// The Python interpreter to embed: QUESTS_PYTHON if set (the one documented override); else,
// for the plugin installed inside the package (pip install), the interpreter of that
// environment: the plugin lives in <prefix>/lib/pythonX.Y/site-packages/lammps_quests/, so
// <prefix>/bin/python3 is four directories up; else (a plugin built against a LAMMPS source
// tree, loaded with `plugin load`) the interpreter CMake was configured with.
std::string venv_python()
{
  const char *user = getenv("QUESTS_PYTHON");
  if (user && *user) return user;
#ifdef QUESTS_INSIDE_PACKAGE
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&venv_python), &info) && info.dli_fname) {
    std::string prefix = parent(parent(parent(parent(parent(info.dli_fname)))));
    for (const char *name : {"/bin/python3", "/bin/python"}) {
      if (is_file(prefix + name)) return prefix + name;
    }
  }
#endif
  return QUESTS_BUILD_PYTHON;
}

// Extension modules (numpy, numba, ...) expect libpython's symbols in the global namespace.
// LAMMPS dlopen()s plugins with RTLD_GLOBAL, but promote libpython explicitly to be safe.
void promote_libpython()
{
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&Py_IsInitialized), &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
}

std::string status_message(const PyStatus &status, const char *what)
{
  std::string msg = what;
  if (status.func) msg += std::string(" (") + status.func + ")";
  if (status.err_msg) msg += std::string(": ") + status.err_msg;
  return msg;
}

std::string embed()
{
  promote_libpython();
  std::string exe = venv_python();
  if (!is_file(exe)) {
    const char *user = getenv("QUESTS_PYTHON");
    return std::string(1, QuestsPython::INPUT_ERROR_MARK) + "no such interpreter: " + exe +
        (user && *user ? " (from QUESTS_PYTHON)" : "") +
        "; set QUESTS_PYTHON to the python of the environment where lammps-quests is installed, "
        "or unset it";
  }
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;    // leave SIGINT & co. to LAMMPS and MPI
  config.parse_argv = 0;
  PyStatus status = PyConfig_SetBytesString(&config, &config.executable, exe.c_str());
  if (!PyStatus_Exception(status))
    status = PyConfig_SetBytesString(&config, &config.program_name, exe.c_str());
  if (PyStatus_Exception(status)) {
    PyConfig_Clear(&config);
    return status_message(status, "cannot configure the embedded Python interpreter");
  }
  status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status))
    return status_message(status, ("cannot start the embedded Python interpreter " + exe).c_str());
  // the thread state stays alive for the whole process; LAMMPS threads take the GIL per call
  PyEval_SaveThread();
  return "";
}

std::string ensure_interpreter()
{
  static std::string startup_error;
  static bool started = false;
  if (Py_IsInitialized()) return "";
  if (started) return startup_error;    // a failed start is not retried
  started = true;
  startup_error = embed();
  return startup_error;
}

class Gil {
 public:
  Gil() : state(PyGILState_Ensure()) {}
  ~Gil() { PyGILState_Release(state); }
  Gil(const Gil &) = delete;
  Gil &operator=(const Gil &) = delete;

 private:
  PyGILState_STATE state;
};

// Fetch and clear the pending Python exception as "ExceptionType: message", or as the marked
// message alone for a ValueError (the package's input errors: keyword, file, setting).
std::string fetch_error()
{
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  if (!type) return "unknown Python error";
  PyErr_NormalizeException(&type, &value, &traceback);
  const bool input = PyErr_GivenExceptionMatches(type, PyExc_ValueError);
  std::string msg;
  PyObject *name = input ? nullptr : PyObject_GetAttrString(type, "__name__");
  if (name && PyUnicode_Check(name)) msg = PyUnicode_AsUTF8(name);
  Py_XDECREF(name);
  PyObject *text = value ? PyObject_Str(value) : nullptr;
  if (text && PyUnicode_Check(text)) {
    const char *utf8 = PyUnicode_AsUTF8(text);
    if (utf8 && *utf8) msg += (input ? std::string(1, QuestsPython::INPUT_ERROR_MARK) : std::string(": ")) + utf8;
  }
  Py_XDECREF(text);
  PyErr_Clear();    // an exception while formatting must not leak into the next call
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(traceback);
  return msg.empty() ? std::string("unknown Python error") : msg;
}

// sys.executable of the running interpreter (GIL held).
std::string running_python()
{
  PyObject *exe = PySys_GetObject("executable");    // borrowed
  if (exe && PyUnicode_Check(exe)) return PyUnicode_AsUTF8(exe);
  return venv_python();
}

const char *BRIDGE_MODULE = "lammps_quests.lammps._bridge";

// The bridge module, imported once (GIL held); nullptr and `error` set on failure.
PyObject *bridge_module(std::string &error)
{
  static PyObject *module = nullptr;
  if (module) return module;
  module = PyImport_ImportModule(BRIDGE_MODULE);
  if (!module)
    error = "cannot import " + std::string(BRIDGE_MODULE) + " (" + fetch_error() +
        ") in the Python interpreter " + running_python() +
        "; install lammps-quests into that environment, or set QUESTS_PYTHON to the python of "
        "the environment where it is installed";
  return module;
}

// Call bridge.<name>(address of the LAMMPS, *args) and return a new reference (GIL held);
// `args` is a tuple of the remaining arguments, consumed here.
PyObject *call_bridge(void *lmp, const char *name, PyObject *args, std::string &error)
{
  PyObject *result = nullptr;
  PyObject *module = bridge_module(error);
  PyObject *function = module ? PyObject_GetAttrString(module, name) : nullptr;
  if (function && args) {
    PyObject *head = Py_BuildValue("(K)", static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(lmp)));
    PyObject *all = head ? PySequence_Concat(head, args) : nullptr;
    result = all ? PyObject_CallObject(function, all) : nullptr;
    Py_XDECREF(head);
    Py_XDECREF(all);
  }
  if (!result && error.empty()) error = fetch_error();
  Py_XDECREF(function);
  Py_XDECREF(args);
  return result;
}

bool to_doubles(PyObject *sequence, std::vector<double> &out)
{
  PyObject *fast = PySequence_Fast(sequence, "expected a sequence of numbers");
  if (!fast) return false;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
  out.resize(n);
  for (Py_ssize_t i = 0; i < n; i++) out[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
  Py_DECREF(fast);
  return !PyErr_Occurred();
}

PyObject *to_list(const std::vector<double> &values)
{
  PyObject *list = PyList_New(static_cast<Py_ssize_t>(values.size()));
  for (size_t i = 0; list && i < values.size(); i++)
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), PyFloat_FromDouble(values[i]));
  return list;
}

PyObject *to_list(const std::vector<std::string> &words)
{
  PyObject *list = PyList_New(static_cast<Py_ssize_t>(words.size()));
  for (size_t i = 0; list && i < words.size(); i++)
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), PyUnicode_FromString(words[i].c_str()));
  return list;
}

// A buffer over `bytes` bytes at `data`, no copy (a new reference). Always writable for
// Python: numba compiles a read-only array as another type than a writable one (and refuses
// some mixes), so LAMMPS's arrays are handed over as ordinary arrays; Python writes into `dh`
// only (lammps_quests/lammps/_handoff.py).
PyObject *view(const void *data, size_t bytes)
{
  static char empty = 0;    // memoryviews need an address even when empty
  char *start = (data && bytes) ? static_cast<char *>(const_cast<void *>(data)) : &empty;
  return PyMemoryView_FromMemory(start, data ? static_cast<Py_ssize_t>(bytes) : 0,
                                 PyBUF_WRITE);
}

// The tuple of lammps_quests.lammps._handoff.ATOM_FIELDS (a new reference).
PyObject *atoms_tuple(const QuestsPython::AtomsView &a)
{
  const size_t nall = static_cast<size_t>(a.nlocal) + static_cast<size_t>(a.nghost);
  const size_t ntypes = a.mass ? static_cast<size_t>(a.ntypes) + 1 : 0;
  return Py_BuildValue("(iiNNNiNN(ddd)(ddd)(ddd)(iii)LsiN)", a.nlocal, a.nghost,
                       view(a.x, 3 * nall * sizeof(double)), view(a.type, nall * sizeof(int)),
                       view(a.tag, nall * a.tag_bytes), a.tag_bytes,
                       view(a.mask, a.nlocal * sizeof(int)), view(a.dh, a.nlocal * sizeof(double)),
                       a.boxlo[0], a.boxlo[1], a.boxlo[2], a.boxhi[0], a.boxhi[1], a.boxhi[2],
                       a.tilt[0], a.tilt[1], a.tilt[2], a.periodic[0], a.periodic[1], a.periodic[2],
                       a.step, a.units.c_str(), a.ntypes, view(a.mass, ntypes * sizeof(double)));
}

// The tuple of lammps_quests.lammps._handoff.FRAME_FIELDS (a new reference), or None.
PyObject *frame_tuple(const QuestsPython::Frame *f)
{
  if (!f) Py_RETURN_NONE;
  return Py_BuildValue("(NNNNN)", view(f->tag.data(), f->tag.size() * sizeof(long long)),
                       view(f->type.data(), f->type.size() * sizeof(int)),
                       view(f->mask.data(), f->mask.size() * sizeof(int)),
                       view(f->x.data(), f->x.size() * sizeof(double)),
                       view(f->dh.data(), f->dh.size() * sizeof(double)));
}

std::string text_of(PyObject *object)
{
  const char *utf8 = (object && PyUnicode_Check(object)) ? PyUnicode_AsUTF8(object) : nullptr;
  return utf8 ? utf8 : "";
}

}    // namespace

namespace QuestsPython {

const char INPUT_ERROR_MARK = '\x1e';

bool strip_input_mark(std::string &message)
{
  if (message.empty() || message[0] != INPUT_ERROR_MARK) return false;
  message.erase(0, 1);
  return true;
}

std::string open_fix(void *lmp, const std::string &fix_id, const std::string &group,
                     const std::string &reference, const std::vector<std::string> &words,
                     int rank, int ntypes, const double *mass, FixSetup &setup)
{
  std::string error = ensure_interpreter();
  if (!error.empty()) return error;
  Gil gil;
  const size_t nmass = mass ? static_cast<size_t>(ntypes) + 1 : 0;
  PyObject *args = Py_BuildValue("(sssNiiN)", fix_id.c_str(), group.c_str(), reference.c_str(),
                                 to_list(words), rank, ntypes, view(mass, nmass * sizeof(double)));
  PyObject *result = call_bridge(lmp, "open_fix", args, error);
  if (!result) return error;
  PyObject *reductions = nullptr, *log = nullptr;
  if (PyArg_ParseTuple(result, "dUiU", &setup.cutoff, &reductions, &setup.size_vector, &log)) {
    setup.reductions = text_of(reductions);
    setup.log = text_of(log);
  } else {
    error = "open_fix returned an unexpected value: " + fetch_error();
  }
  Py_DECREF(result);
  return error;
}

std::string evaluate(void *lmp, const std::string &fix_id, int groupbit, int nthreads,
                     const AtomsView &atoms, std::vector<double> &partials)
{
  std::string error;
  Gil gil;
  PyObject *args = Py_BuildValue("(siiN)", fix_id.c_str(), groupbit, nthreads, atoms_tuple(atoms));
  PyObject *result = call_bridge(lmp, "evaluate", args, error);
  if (!result) return error;
  if (!to_doubles(result, partials)) error = "evaluate returned an unexpected value: " + fetch_error();
  Py_DECREF(result);
  return error;
}

std::string wants_frame(void *lmp, const std::string &fix_id, long long step,
                        const std::vector<double> &reduced, int &wanted)
{
  std::string error;
  Gil gil;
  PyObject *args = Py_BuildValue("(sLN)", fix_id.c_str(), step, to_list(reduced));
  PyObject *result = call_bridge(lmp, "wants_frame", args, error);
  if (!result) return error;
  wanted = static_cast<int>(PyLong_AsLong(result));
  if (PyErr_Occurred()) error = "wants_frame returned an unexpected value: " + fetch_error();
  Py_DECREF(result);
  return error;
}

std::string finish(void *lmp, const std::string &fix_id, long long step,
                   const std::vector<double> &reduced, const Frame *frame, Outcome &outcome)
{
  std::string error;
  Gil gil;
  PyObject *args = Py_BuildValue("(sLNN)", fix_id.c_str(), step, to_list(reduced), frame_tuple(frame));
  PyObject *result = call_bridge(lmp, "finish", args, error);
  if (!result) return error;
  PyObject *values = nullptr, *log = nullptr, *warning = nullptr, *message = nullptr;
  if (PyArg_ParseTuple(result, "OiUUU", &values, &outcome.halt, &log, &warning, &message) &&
      to_doubles(values, outcome.values)) {
    outcome.log = text_of(log);
    outcome.warning = text_of(warning);
    outcome.error = text_of(message);
  } else {
    error = "finish returned an unexpected value: " + fetch_error();
  }
  Py_DECREF(result);
  return error;
}

std::string report(void *lmp, const std::string &fix_id, std::string &text)
{
  std::string error;
  Gil gil;
  PyObject *result = call_bridge(lmp, "report", Py_BuildValue("(s)", fix_id.c_str()), error);
  if (!result) return error;
  text = text_of(result);
  Py_DECREF(result);
  return error;
}

void close_fix(void *lmp, const std::string &fix_id)
{
  if (!Py_IsInitialized()) return;
  std::string error;
  Gil gil;
  PyObject *result = call_bridge(lmp, "close_fix", Py_BuildValue("(s)", fix_id.c_str()), error);
  Py_XDECREF(result);
  PyErr_Clear();
}

}    // namespace QuestsPython
