#include "fix_quests.h"

#include "python_bridge.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "modify.h"
#include "neighbor.h"
#include "pair.h"
#include "timer.h"
#include "update.h"
#include "utils.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace LAMMPS_NS;
using namespace FixConst;

static const char *PYTHON_MODULE = "lammps_quests.lammps.fix";

static std::string number(double value)
{
  char buf[64];
  snprintf(buf, sizeof(buf), "%.6g", value);
  return buf;
}

/* ---------------------------------------------------------------------- */

FixQuests::FixQuests(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), bandwidth(0.0), user_bandwidth(-1.0), user_k(0), user_cutoff(-1.0),
    descriptor_k(0), descriptor_cutoff(0.0), threshold(0.0), halt_mode(HALT_NONE),
    halt_threshold(0.0), save_enabled(false), save_threshold(0.0), group_atoms(0.0), last_saved_step(-1), warned_order(false),
    dh(nullptr), evaluate_function(nullptr), save_function(nullptr), lammps_capsule(nullptr)
{
  const std::string usage =
      "; usage: fix ID group-ID quests N reference-file [bandwidth h] [threshold t] "
      "[halt t soft|hard] [save t file] [k K] [cutoff rc]";
  if (narg < 5) error->all(FLERR, "Illegal fix quests command: missing arguments" + usage);

  nevery = utils::inumeric(FLERR, arg[3], false, lmp);
  if (nevery <= 0)
    error->all(FLERR,
               "Fix quests: N must be a positive number of steps, got " + std::string(arg[3]));
  reference_path = arg[4];
  parse_keywords(narg - 5, arg + 5);

  const std::string units = update->unit_style;
  if (units != "metal" && units != "real")
    error->all(FLERR,
               "Fix quests needs lengths in Angstrom: use 'units metal' or 'units real' (the "
               "current units are '" + units + "')");

  vector_flag = 1;
  size_vector = 4;
  extvector = 0;
  global_freq = nevery;
  peratom_flag = 1;
  size_peratom_cols = 0;
  peratom_freq = nevery;
  create_attribute = 1;
  dynamic_group_allow = 1;
  maxexchange = 1;
  for (double &s : stats) s = 0.0;

  // per-atom storage follows atoms between ranks; zero before the first evaluation
  FixQuests::grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  for (int i = 0; i < atom->nmax; i++) dh[i] = 0.0;

  open_reference();
}

/* ---------------------------------------------------------------------- */

FixQuests::~FixQuests()
{
  if (copymode) return;
  atom->delete_callback(id, Atom::GROW);
  memory->destroy(dh);
  QuestsPython::release(evaluate_function);
  QuestsPython::release(save_function);
  QuestsPython::release(lammps_capsule);
}

/* ---------------------------------------------------------------------- */

void FixQuests::parse_keywords(int narg, char **arg)
{
  int iarg = 0;
  auto need = [&](int n, const char *syntax) {
    if (iarg + n >= narg)
      error->all(FLERR, std::string("Fix quests: keyword ") + arg[iarg] + " expects " + syntax);
  };
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "bandwidth") {
      need(1, "a bandwidth in 1/Angstrom: bandwidth h");
      user_bandwidth = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (!(user_bandwidth > 0.0))
        error->all(FLERR, "Fix quests: bandwidth must be > 0 (1/Angstrom), got " +
                              std::string(arg[iarg + 1]));
      iarg += 2;
    } else if (key == "threshold") {
      need(1, "a value in nats: threshold t");
      threshold = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      iarg += 2;
    } else if (key == "halt") {
      need(2, "a threshold in nats and a mode: halt t soft|hard");
      halt_threshold = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      const std::string mode = arg[iarg + 2];
      if (mode == "soft")
        halt_mode = HALT_SOFT;
      else if (mode == "hard")
        halt_mode = HALT_HARD;
      else
        error->all(FLERR, "Fix quests: halt mode must be 'soft' or 'hard', got '" + mode + "'");
      iarg += 3;
    } else if (key == "save") {
      need(2, "a threshold in nats and a file name: save t file");
      save_threshold = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      save_path = arg[iarg + 2];
      save_enabled = true;
      iarg += 3;
    } else if (key == "k") {
      need(1, "the number of neighbours the reference must use: k K");
      user_k = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
      if (user_k < 2)
        error->all(FLERR, "Fix quests: k must be >= 2, got " + std::string(arg[iarg + 1]));
      iarg += 2;
    } else if (key == "cutoff") {
      need(1, "the descriptor cutoff in Angstrom the reference must use: cutoff rc");
      user_cutoff = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (!(user_cutoff > 0.0))
        error->all(FLERR, "Fix quests: cutoff must be > 0 Angstrom, got " +
                              std::string(arg[iarg + 1]));
      iarg += 2;
    } else {
      error->all(FLERR,
                 "Fix quests: unknown keyword '" + key +
                     "'; valid keywords are bandwidth, threshold, halt, save, k, cutoff");
    }
  }
}

/* ----------------------------------------------------------------------
   start Python (all ranks), load and validate the reference, look up the functions.
   Every rank does the same work on the same file, and errors are agreed on collectively,
   so a failure on one rank cannot leave the others waiting.
------------------------------------------------------------------------- */

void FixQuests::open_reference()
{
  std::string err = QuestsPython::ensure_interpreter();
  stop_on_python_error(err, "starting Python");

  double info[4] = {0.0, 0.0, 0.0, 0.0};
  {
    QuestsPython::GilGuard gil;
    auto opener = QuestsPython::lookup(PYTHON_MODULE, "open_reference");
    if (opener.ok()) {
      PyObject *h = user_bandwidth > 0 ? PyFloat_FromDouble(user_bandwidth) : Py_NewRef(Py_None);
      PyObject *k = user_k > 0 ? PyLong_FromLong(user_k) : Py_NewRef(Py_None);
      PyObject *rc = user_cutoff > 0 ? PyFloat_FromDouble(user_cutoff) : Py_NewRef(Py_None);
      PyObject *result = PyObject_CallFunction(opener.value, "sOOO", reference_path.c_str(), h,
                                               k, rc);
      Py_DECREF(h);
      Py_DECREF(k);
      Py_DECREF(rc);
      Py_DECREF(opener.value);
      if (!result)
        err = QuestsPython::fetch_error();
      else {
        if (!PyArg_ParseTuple(result, "dddd", &info[0], &info[1], &info[2], &info[3]))
          err = "open_reference returned an unexpected value: " + QuestsPython::fetch_error();
        Py_DECREF(result);
      }
    } else {
      err = opener.error;
    }
    if (err.empty()) {
      auto evaluate = QuestsPython::lookup(PYTHON_MODULE, "evaluate");
      auto save = QuestsPython::lookup(PYTHON_MODULE, "save_frame");
      if (!evaluate.ok()) err = evaluate.error;
      if (!save.ok()) err = save.error;
      evaluate_function = evaluate.value;
      save_function = save.value;
      lammps_capsule = PyCapsule_New(static_cast<void *>(lmp), nullptr, nullptr);
      if (!lammps_capsule) err = QuestsPython::fetch_error();
    }
  }
  stop_on_python_error(err, ("reading reference file " + reference_path).c_str());

  descriptor_k = static_cast<int>(info[0]);
  descriptor_cutoff = info[1];
  bandwidth = info[2];
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "fix quests " + std::string(id) + ": reference " + reference_path + " with " +
                       number(info[3]) + " environments, k = " + std::to_string(descriptor_k) +
                       ", cutoff = " + number(descriptor_cutoff) +
                       " Angstrom, bandwidth = " + number(bandwidth) + " 1/Angstrom\n");
}

/* ---------------------------------------------------------------------- */

int FixQuests::setmask()
{
  return END_OF_STEP;
}

/* ---------------------------------------------------------------------- */

void FixQuests::init()
{
  const std::string units = update->unit_style;
  if (units != "metal" && units != "real")
    error->all(FLERR, "Fix quests needs lengths in Angstrom: use 'units metal' or 'units real'");
  ensure_comm_cutoff();
  warn_about_later_box_changes();
}

/* ----------------------------------------------------------------------
   fixes run their end_of_step in definition order; one defined later that changes the box
   (fix deform with remap) moves atoms after dH was computed, so dumps of that step show a
   slightly different frame than the one evaluated
------------------------------------------------------------------------- */

void FixQuests::warn_about_later_box_changes()
{
  if (warned_order) return;
  bool after_me = false;
  for (int i = 0; i < modify->nfix; i++) {
    Fix *other = modify->fix[i];
    if (other == this) {
      after_me = true;
      continue;
    }
    if (!after_me || !other->box_change || !(modify->fmask[i] & END_OF_STEP)) continue;
    warned_order = true;
    if (comm->me == 0)
      error->warning(FLERR,
                     "Fix quests {} is defined before fix {} ({}), which changes the box at the "
                     "end of each step: dH is computed on the frame before that change; define "
                     "fix quests after it to evaluate the frame that dumps show",
                     id, other->id, other->style);
  }
}

/* ----------------------------------------------------------------------
   ghost atoms must include every neighbour within the descriptor cutoff of each owned atom
   until the next reneighboring; atoms move by less than skin/2 each in between, so the
   ghost cutoff must reach descriptor cutoff + skin.
------------------------------------------------------------------------- */

void FixQuests::ensure_comm_cutoff()
{
  const double needed = descriptor_cutoff + neighbor->skin;
  double pair_cut = (force->pair ? force->pair->cutforce : 0.0) + neighbor->skin;
  double have = std::max(pair_cut, comm->cutghostuser);
  if (have >= needed) return;
  if (comm->mode != Comm::SINGLE)
    error->all(FLERR,
               "Fix quests needs a communication cutoff of " + number(needed) +
                   " Angstrom (descriptor cutoff + skin) but comm_modify mode is not single; "
                   "use comm_modify mode single cutoff " + number(needed));
  comm->cutghostuser = needed;
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "fix quests " + std::string(id) + ": extending the communication cutoff from " +
                       number(have) + " to " + number(needed) + " Angstrom (descriptor cutoff " +
                       number(descriptor_cutoff) + " + neighbor skin " + number(neighbor->skin) +
                       "), as with comm_modify cutoff " + number(needed) + "\n");
}

/* ---------------------------------------------------------------------- */

void FixQuests::setup(int /*vflag*/)
{
  // ghosts are normally current here; refreshing them is cheap and keeps this path identical
  // to end_of_step. (`run N pre no` skips all fix setup, so no evaluation happens then.)
  comm->forward_comm();
  evaluate();
}

void FixQuests::end_of_step()
{
  // fixes earlier in the end_of_step list (fix deform with remap) may have moved owned atoms
  // and the box since ghosts were last updated: refresh the ghost positions from the owners
  comm->forward_comm();
  evaluate();
}

/* ---------------------------------------------------------------------- */

void FixQuests::evaluate()
{
  call_python(evaluate_function, true, "computing dH");
  reduce_statistics();
  act_on_thresholds();
}

/* ----------------------------------------------------------------------
   call one of the Python functions with (lammps capsule, fix ID, ...) on every rank, then
   agree on failure collectively
------------------------------------------------------------------------- */

void FixQuests::call_python(PyObject *function, bool with_evaluate_arguments, const char *what)
{
  std::string err;
  {
    QuestsPython::GilGuard gil;
    PyObject *result;
    if (with_evaluate_arguments) {
      PyObject *args = Py_BuildValue("(Os)", lammps_capsule, reference_path.c_str());
      PyObject *kwargs = Py_BuildValue("{s:s,s:i,s:d,s:i}", "fix_id", id, "group_bit", groupbit,
                                       "bandwidth", bandwidth, "num_threads", comm->nthreads);
      result = (args && kwargs) ? PyObject_Call(function, args, kwargs) : nullptr;
      Py_XDECREF(args);
      Py_XDECREF(kwargs);
    } else {
      result = PyObject_CallFunction(function, "OssL", lammps_capsule, id, save_path.c_str(),
                                     static_cast<long long>(update->ntimestep));
    }
    if (!result)
      err = QuestsPython::fetch_error();
    else
      Py_DECREF(result);
  }
  stop_on_python_error(err, what);
}

void FixQuests::stop_on_python_error(const std::string &local_error, const char *what)
{
  int mine = local_error.empty() ? comm->nprocs : comm->me;
  int first = comm->nprocs;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, world);
  if (first == comm->nprocs) return;

  // every rank reports the message of the lowest failing rank
  std::string message = local_error;
  int length = static_cast<int>(message.size());
  MPI_Bcast(&length, 1, MPI_INT, first, world);
  message.resize(length);
  MPI_Bcast(&message[0], length, MPI_CHAR, first, world);
  std::string where = comm->nprocs > 1 ? " (MPI rank " + std::to_string(first) + ")" : "";
  error->all(FLERR, "Fix quests " + std::string(id) + ": " + what + " failed" + where + ": " +
                        message);
}

/* ---------------------------------------------------------------------- */

void FixQuests::reduce_statistics()
{
  int *mask = atom->mask;
  const int nlocal = atom->nlocal;
  double local_max = -std::numeric_limits<double>::infinity();
  double local_sums[3] = {0.0, 0.0, 0.0};    // sum dH, group atoms, atoms above threshold
  for (int i = 0; i < nlocal; i++) {
    if (!(mask[i] & groupbit)) continue;
    local_max = std::max(local_max, dh[i]);
    local_sums[0] += dh[i];
    local_sums[1] += 1.0;
    if (dh[i] > threshold) local_sums[2] += 1.0;
  }
  double global_max, sums[3];
  MPI_Allreduce(&local_max, &global_max, 1, MPI_DOUBLE, MPI_MAX, world);
  MPI_Allreduce(local_sums, sums, 3, MPI_DOUBLE, MPI_SUM, world);
  group_atoms = sums[1];
  const bool empty = sums[1] == 0.0;
  stats[0] = empty ? 0.0 : global_max;
  stats[1] = empty ? 0.0 : sums[0] / sums[1];
  stats[2] = empty ? 0.0 : sums[2] / sums[1];
  stats[3] = sums[2];
}

/* ----------------------------------------------------------------------
   the decisions use the reduced maximum, identical on all ranks
------------------------------------------------------------------------- */

void FixQuests::act_on_thresholds()
{
  const double max_dh = stats[0];
  if (group_atoms == 0.0) return;

  if (save_enabled && max_dh > save_threshold && last_saved_step != update->ntimestep) {
    call_python(save_function, false, ("saving the frame to " + save_path).c_str());
    last_saved_step = update->ntimestep;
    if (comm->me == 0)
      utils::logmesg(lmp, "fix quests " + std::string(id) + ": step " +
                              std::to_string(update->ntimestep) + " max dH " + number(max_dh) +
                              " > " + number(save_threshold) + ", frame appended to " +
                              save_path + "\n");
  }

  if (halt_mode != HALT_NONE && max_dh > halt_threshold) {
    const std::string summary = "max dH = " + number(max_dh) + " nats > halt threshold " +
        number(halt_threshold) + " at step " + std::to_string(update->ntimestep) + "; " +
        std::to_string(static_cast<bigint>(stats[3])) + " atoms with dH > " + number(threshold);
    if (halt_mode == HALT_HARD)
      error->all(FLERR, "Fix quests " + std::string(id) + ": " + summary);
    // soft: like fix halt ... error soft, end this run cleanly and let the script go on
    if (comm->me == 0)
      utils::logmesg(lmp, "fix quests " + std::string(id) + ": " + summary +
                              ", stopping the run (halt soft)\n");
    timer->force_timeout();
  }
}

/* ---------------------------------------------------------------------- */

double FixQuests::compute_vector(int n)
{
  return stats[n];
}

/* ---------------------------------------------------------------------- */

void FixQuests::grow_arrays(int nmax)
{
  memory->grow(dh, nmax, "quests:dh");
  vector_atom = dh;
}

void FixQuests::copy_arrays(int i, int j, int /*delflag*/)
{
  dh[j] = dh[i];
}

void FixQuests::set_arrays(int i)
{
  dh[i] = 0.0;
}

int FixQuests::pack_exchange(int i, double *buf)
{
  buf[0] = dh[i];
  return 1;
}

int FixQuests::unpack_exchange(int nlocal, double *buf)
{
  dh[nlocal] = buf[0];
  return 1;
}

double FixQuests::memory_usage()
{
  return static_cast<double>(atom->nmax) * sizeof(double);
}
