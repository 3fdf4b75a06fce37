#include "python_bridge.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <sys/stat.h>

#include <string>

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

// The Python interpreter of the environment this plugin is installed in.
// The plugin lives in <prefix>/lib/pythonX.Y/site-packages/lammps_quests/questsplugin.so, so
// <prefix>/bin/python3 is four directories up. Outside such a layout (a build tree loaded with
// `plugin load`), fall back to the interpreter that built the plugin, and let QUESTS_PYTHON
// override both.
std::string venv_python()
{
  const char *user = getenv("QUESTS_PYTHON");
  if (user && *user) return user;
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&venv_python), &info) && info.dli_fname) {
    std::string prefix = parent(parent(parent(parent(parent(info.dli_fname)))));
    for (const char *name : {"/bin/python3", "/bin/python"}) {
      if (is_file(prefix + name)) return prefix + name;
    }
  }
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

}    // namespace

namespace QuestsPython {

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

GilGuard::GilGuard() : state(static_cast<int>(PyGILState_Ensure())) {}

GilGuard::~GilGuard()
{
  PyGILState_Release(static_cast<PyGILState_STATE>(state));
}

std::string fetch_error()
{
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  if (!type) return "unknown Python error";
  PyErr_NormalizeException(&type, &value, &traceback);
  std::string msg;
  PyObject *name = PyObject_GetAttrString(type, "__name__");
  if (name && PyUnicode_Check(name)) msg = PyUnicode_AsUTF8(name);
  Py_XDECREF(name);
  PyObject *text = value ? PyObject_Str(value) : nullptr;
  if (text && PyUnicode_Check(text)) {
    const char *utf8 = PyUnicode_AsUTF8(text);
    if (utf8 && *utf8) msg += std::string(": ") + utf8;
  }
  Py_XDECREF(text);
  PyErr_Clear();    // an exception while formatting must not leak into the next call
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(traceback);
  return msg.empty() ? std::string("unknown Python error") : msg;
}

CallResult lookup(const char *module, const char *name)
{
  CallResult result;
  PyObject *mod = PyImport_ImportModule(module);
  if (!mod) {
    result.error = std::string("cannot import ") + module + ": " + fetch_error();
    return result;
  }
  result.value = PyObject_GetAttrString(mod, name);
  Py_DECREF(mod);
  if (!result.value) result.error = fetch_error();
  return result;
}

void release(PyObject *&object)
{
  if (object && Py_IsInitialized()) {
    GilGuard gil;
    Py_DECREF(object);
  }
  object = nullptr;
}

}    // namespace QuestsPython
