#include "fix_quests.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "group.h"
#include "lammps.h"
#include "memory.h"
#include "modify.h"
#include "neighbor.h"
#include "pair.h"
#include "timer.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <climits>

// platform.h (LAMMPS's portable timers) appeared after 29Sep2021; CMakeLists.txt checks for it
#ifdef QUESTS_HAVE_PLATFORM_H
#include "platform.h"
static double wall_seconds() { return LAMMPS_NS::wall_seconds(); }
#else
static double wall_seconds() { return MPI_Wtime(); }
#endif

using namespace LAMMPS_NS;
using namespace FixConst;

/* ---------------------------------------------------------------------- */

FixQuests::FixQuests(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), descriptor_cutoff(0.0), warned_order(false), loop_evaluations(0),
    loop_seconds(0.0), dh(nullptr)
{
  if (narg < 5)
    error->all(FLERR,
               "Illegal fix quests command: missing arguments; usage: fix ID group-ID quests N "
               "reference-file [keyword value ...]");
  nevery = utils::inumeric(FLERR, arg[3], false, lmp);
  if (nevery <= 0)
    error->all(FLERR, "Fix quests: N must be a positive number of steps, got {}", arg[3]);
  reference_path = arg[4];
  keywords.assign(arg + 5, arg + narg);
  check_units();

  vector_flag = 1;
  extvector = 0;
  global_freq = nevery;
  peratom_flag = 1;
  size_peratom_cols = 0;
  peratom_freq = nevery;
  create_attribute = 1;
  dynamic_group_allow = 1;
  maxexchange = 1;

  // per-atom storage follows atoms between ranks; zero before the first evaluation
  FixQuests::grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  for (int i = 0; i < atom->nmax; i++) dh[i] = 0.0;

  open_session();
}

/* ---------------------------------------------------------------------- */

FixQuests::~FixQuests()
{
  if (copymode) return;
  atom->delete_callback(id, Atom::GROW);
  memory->destroy(dh);
  QuestsPython::close_fix(lmp, id);
}

/* ----------------------------------------------------------------------
   the descriptors are in 1/Angstrom: only unit styles with lengths in Angstrom fit
   (the box cannot change units once it exists, so this one check suffices)
------------------------------------------------------------------------- */

void FixQuests::check_units()
{
  const std::string units = update->unit_style;
  if (units != "metal" && units != "real")
    error->all(FLERR,
               "Fix quests needs lengths in Angstrom: use 'units metal' or 'units real' (the "
               "current units are '{}')",
               units);
}

/* ----------------------------------------------------------------------
   start Python (all ranks), parse the keywords, load and check the reference. Every rank does
   the same work on the same file, and errors are agreed on collectively, so a failure on one
   rank cannot leave the others waiting.
------------------------------------------------------------------------- */

void FixQuests::open_session()
{
  QuestsPython::FixSetup setup;
  std::string err = QuestsPython::open_fix(lmp, id, group->names[igroup], reference_path,
                                           keywords, comm->me, atom->ntypes, atom->mass, setup);
  stop_on_python_error(err, "setting up with reference file " + reference_path);
  descriptor_cutoff = setup.cutoff;
  reductions = setup.reductions;
  if (reductions.empty() || reductions.find_first_not_of("ms") != std::string::npos)
    error->all(FLERR,
               "Fix quests {}: the Python side returned the reductions '{}'; expected one letter "
               "m (maximum) or s (sum) per statistic: reinstall lammps-quests so that the plugin "
               "and its Python package match",
               id, reductions);
  size_vector = setup.size_vector;
  stats.assign(size_vector, 0.0);
  if (comm->me == 0) utils::logmesg(lmp, setup.log);
}

/* ---------------------------------------------------------------------- */

int FixQuests::setmask()
{
  return END_OF_STEP;
}

/* ---------------------------------------------------------------------- */

void FixQuests::init()
{
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
               "Fix quests needs a communication cutoff of {:.6g} Angstrom (descriptor cutoff + "
               "skin) but comm_modify mode is not single; use comm_modify mode single cutoff {:.6g}",
               needed, needed);
  comm->cutghostuser = needed;
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "fix quests {}: extending the communication cutoff from {:.6g} to {:.6g} "
                   "Angstrom (descriptor cutoff {:.6g} + neighbor skin {:.6g}), as with "
                   "comm_modify cutoff {:.6g}\n",
                   id, have, needed, descriptor_cutoff, neighbor->skin, needed);
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
  const double start = wall_seconds();
  // fixes earlier in the end_of_step list (fix deform with remap) may have moved owned atoms
  // and the box since ghosts were last updated: refresh the ghost positions from the owners
  comm->forward_comm();
  evaluate();
  loop_seconds += wall_seconds() - start;
  loop_evaluations++;
}

void FixQuests::post_run()
{
  std::string text;
  stop_on_python_error(QuestsPython::report(lmp, id, text), "reporting");
  if (comm->me == 0 && !text.empty()) utils::logmesg(lmp, text);
  report_cost();
}

/* ----------------------------------------------------------------------
   what the evaluations of the run just ended cost, against its loop time (the "Loop time"
   LAMMPS prints next: the timer has stopped before fixes' post_run). Rank 0's time is the
   job's: every evaluation ends in collectives, so rank 0 also waits for the slowest rank.
   The evaluation at setup is outside the loop time and not counted.
------------------------------------------------------------------------- */

void FixQuests::report_cost()
{
  const double loop = timer->get_wall(Timer::TOTAL);
  if (comm->me == 0 && loop_evaluations > 0 && loop > 0.0)
    utils::logmesg(lmp,
                   "fix quests {}: {} evaluations took {:.3g} s of the {:.3g} s loop time "
                   "({:.1f} %), {:.3g} ms each\n",
                   id, loop_evaluations, loop_seconds, loop, 100.0 * loop_seconds / loop,
                   1e3 * loop_seconds / loop_evaluations);
  loop_evaluations = 0;
  loop_seconds = 0.0;
}

/* ----------------------------------------------------------------------
   per-atom dH in Python, partial statistics reduced here, decisions in Python again
   (identical on all ranks, since they see the same reduced numbers)
------------------------------------------------------------------------- */

void FixQuests::evaluate()
{
  std::vector<double> partials;
  std::string err = QuestsPython::evaluate(lmp, id, groupbit, comm->nthreads, atoms_view(), partials);
  if (err.empty() && partials.size() != reductions.size())
    err = "the Python side returned " + std::to_string(partials.size()) +
        " statistics, expected " + std::to_string(reductions.size());
  stop_on_python_error(err, "computing dH");

  const std::vector<double> reduced = reduce(partials);
  int wanted = 0;
  stop_on_python_error(QuestsPython::wants_frame(lmp, id, update->ntimestep, reduced, wanted),
                       "deciding on a save");
  QuestsPython::Frame frame;
  if (wanted) gather_frame(frame);
  QuestsPython::Outcome outcome;
  stop_on_python_error(QuestsPython::finish(lmp, id, update->ntimestep, reduced,
                                            wanted ? &frame : nullptr, outcome),
                       "acting on dH");
  act(outcome);
}

/* ----------------------------------------------------------------------
   this rank's atoms for the Python side: pointers into LAMMPS's arrays, nothing copied
------------------------------------------------------------------------- */

QuestsPython::AtomsView FixQuests::atoms_view()
{
  QuestsPython::AtomsView view;
  view.nlocal = atom->nlocal;
  view.nghost = atom->nghost;
  view.x = (atom->x && atom->nmax > 0) ? &atom->x[0][0] : nullptr;    // one contiguous block
  view.type = atom->type;
  view.tag = atom->tag;
  view.tag_bytes = static_cast<int>(sizeof(tagint));
  view.mask = atom->mask;
  view.dh = dh;
  for (int d = 0; d < 3; d++) {
    view.boxlo[d] = domain->boxlo[d];
    view.boxhi[d] = domain->boxhi[d];
  }
  view.tilt[0] = domain->xy;
  view.tilt[1] = domain->xz;
  view.tilt[2] = domain->yz;
  view.periodic[0] = domain->xperiodic;
  view.periodic[1] = domain->yperiodic;
  view.periodic[2] = domain->zperiodic;
  view.step = static_cast<long long>(update->ntimestep);
  view.units = update->unit_style;
  view.ntypes = atom->ntypes;
  view.mass = atom->mass;
  return view;
}

/* ----------------------------------------------------------------------
   the whole frame (ids, types, group masks, positions, dH) on every rank, rank by rank.
   Every rank gets it, not rank 0 only: every rank then takes the same save decisions, so the
   de-duplication state of the saver stays identical on all ranks (rank 0 alone writes).
------------------------------------------------------------------------- */

void FixQuests::gather_frame(QuestsPython::Frame &frame)
{
  if (atom->natoms > INT_MAX / 3)
    error->all(FLERR, "Fix quests {}: save gathers whole frames, at most {} atoms; this system "
               "has {}", id, INT_MAX / 3, atom->natoms);
  int n = atom->nlocal;    // not const: LAMMPS's serial STUBS declare non-const send buffers
  std::vector<int> counts(comm->nprocs), offsets(comm->nprocs);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, world);
  int total = 0;
  for (int r = 0; r < comm->nprocs; r++) {
    offsets[r] = total;
    total += counts[r];
  }
  std::vector<long long> tags(atom->tag, atom->tag + n);
  frame.tag.resize(total);
  frame.type.resize(total);
  frame.mask.resize(total);
  frame.dh.resize(total);
  frame.x.resize(3 * static_cast<size_t>(total));
  MPI_Allgatherv(tags.data(), n, MPI_LONG_LONG, frame.tag.data(), counts.data(), offsets.data(),
                 MPI_LONG_LONG, world);
  MPI_Allgatherv(atom->type, n, MPI_INT, frame.type.data(), counts.data(), offsets.data(),
                 MPI_INT, world);
  MPI_Allgatherv(atom->mask, n, MPI_INT, frame.mask.data(), counts.data(), offsets.data(),
                 MPI_INT, world);
  MPI_Allgatherv(dh, n, MPI_DOUBLE, frame.dh.data(), counts.data(), offsets.data(), MPI_DOUBLE,
                 world);
  for (int r = 0; r < comm->nprocs; r++) {
    counts[r] *= 3;
    offsets[r] *= 3;
  }
  double *x = n > 0 ? &atom->x[0][0] : nullptr;
  MPI_Allgatherv(x, 3 * n, MPI_DOUBLE, frame.x.data(), counts.data(), offsets.data(), MPI_DOUBLE,
                 world);
}

/* ----------------------------------------------------------------------
   two collectives whatever the number of statistics: the 'm' entries of `reductions` packed
   into one MPI_MAX, the 's' entries into one MPI_SUM, then put back in their order
------------------------------------------------------------------------- */

std::vector<double> FixQuests::reduce(const std::vector<double> &partials)
{
  std::vector<double> local[2], global[2];    // [0]: maximum over ranks, [1]: sum over ranks
  for (size_t i = 0; i < partials.size(); i++)
    local[reductions[i] == 'm' ? 0 : 1].push_back(partials[i]);
  const MPI_Op ops[2] = {MPI_MAX, MPI_SUM};
  for (int k = 0; k < 2; k++) {
    global[k].resize(local[k].size());
    if (!local[k].empty())
      MPI_Allreduce(local[k].data(), global[k].data(), static_cast<int>(local[k].size()),
                    MPI_DOUBLE, ops[k], world);
  }
  std::vector<double> reduced(partials.size());
  size_t next[2] = {0, 0};
  for (size_t i = 0; i < partials.size(); i++) {
    const int k = reductions[i] == 'm' ? 0 : 1;
    reduced[i] = global[k][next[k]++];
  }
  return reduced;
}

void FixQuests::act(const QuestsPython::Outcome &outcome)
{
  for (size_t i = 0; i < stats.size() && i < outcome.values.size(); i++)
    stats[i] = outcome.values[i];
  if (comm->me == 0 && !outcome.warning.empty()) error->warning(FLERR, outcome.warning);
  // the log (save lines; with a hard halt also the saved summary) is complete before the
  // ERROR line, and flushed: a line in the log means its structure is on disk
  if (comm->me == 0 && !outcome.log.empty()) {
    utils::logmesg(lmp, outcome.log);
    if (screen) fflush(screen);
    if (logfile) fflush(logfile);
  }
  if (outcome.halt == 2) error->all(FLERR, "Fix quests {}: {}", id, outcome.error);
  // soft: like fix halt ... error soft, end this run cleanly and let the script go on
  if (outcome.halt == 1) timer->force_timeout();
}

/* ----------------------------------------------------------------------
   agree on failure collectively: every rank reports the message of the lowest failing rank
------------------------------------------------------------------------- */

void FixQuests::stop_on_python_error(const std::string &local_error, const std::string &what)
{
  int mine = local_error.empty() ? comm->nprocs : comm->me;
  int first = comm->nprocs;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, world);
  if (first == comm->nprocs) return;

  std::string message = local_error;
  int length = static_cast<int>(message.size());
  MPI_Bcast(&length, 1, MPI_INT, first, world);
  message.resize(length);
  MPI_Bcast(&message[0], length, MPI_CHAR, first, world);
  std::string where = comm->nprocs > 1 ? fmt::format(" (MPI rank {})", first) : "";
  // a user error names the keyword or file itself: its text alone; anything else is a bug,
  // whose text (type, message, raising line, where to report it) follows what failed
  if (QuestsPython::strip_input_mark(message))
    error->all(FLERR, "Fix quests {}: {}{}", id, message, where);
  error->all(FLERR, "Fix quests {}: {} failed{}: {}", id, what, where, message);
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

/* ----------------------------------------------------------------------
   the entry points src/quests_plugin.cpp (the loader) looks up after its checks
------------------------------------------------------------------------- */

extern "C" __attribute__((visibility("default"))) void *questsfix_create(void *lmp, int narg,
                                                                        char **arg)
{
  return static_cast<Fix *>(new FixQuests(static_cast<LAMMPS *>(lmp), narg, arg));
}

extern "C" __attribute__((visibility("default"))) const char *
questsfix_lammps_version_string(void *lmp)
{
  return static_cast<LAMMPS *>(lmp)->version;
}
