/* fix quests: per-atom QUESTS differential entropy dH (nats) of each atom's environment
   against a reference set, evaluated every N steps and at the start of each run.

   Syntax: fix ID group-ID quests N reference-file keyword value ...
   The keywords (bandwidth, threshold, halt, save, k, cutoff, ...) are parsed on the Python side,
   lammps_quests/lammps/_keywords.py, which lists them with their meaning.

   Output: per-atom vector f_ID = dH (0.0 outside the group), global vector
   f_ID[1..5] = max dH, mean dH over the group, fraction of group atoms with dH > t, their count,
   and the count of new atoms (what save would save; 0 without save).

   Everything but LAMMPS's own duties happens in Python (lammps_quests/lammps/_bridge.py, reached
   through the typed calls of python_bridge.h): this class keeps the per-atom storage that
   migrates with atoms, the ghost cutoff, the MPI reductions and frame gathers, and LAMMPS's log,
   error and halt mechanisms. It hands Python this rank's atoms as buffers over LAMMPS's own
   arrays (no copy), and Python writes dH into this fix's per-atom array; Python never reads
   LAMMPS back, so no `lammps` Python module is involved. */

#ifndef LMP_FIX_QUESTS_H
#define LMP_FIX_QUESTS_H

#include "fix.h"

#include "python_bridge.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class FixQuests : public Fix {
 public:
  FixQuests(class LAMMPS *, int, char **);
  ~FixQuests() override;
  int setmask() override;
  void init() override;
  void setup(int) override;
  void end_of_step() override;
  void post_run() override;
  double compute_vector(int) override;

  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  void set_arrays(int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;
  double memory_usage() override;

 private:
  std::string reference_path;
  std::vector<std::string> keywords;    // words after reference-file, parsed in Python
  double descriptor_cutoff;    // Angstrom, from the reference
  std::string reductions;      // per partial statistic: 'm' max or 's' sum over ranks
  bool warned_order;           // the fix-order warning is printed once
  int loop_evaluations;        // evaluations in end_of_step since the last end-of-run report
  double loop_seconds;         // their wall time on this rank, s

  double *dh;                   // per-atom dH, nats (vector_atom)
  std::vector<double> stats;    // global vector, from the Python side

  void check_units();
  void open_session();
  void ensure_comm_cutoff();
  void warn_about_later_box_changes();
  void evaluate();
  QuestsPython::AtomsView atoms_view();
  void gather_frame(QuestsPython::Frame &frame);
  void report_cost();
  std::vector<double> reduce(const std::vector<double> &partials);
  void act(const QuestsPython::Outcome &outcome);
  void stop_on_python_error(const std::string &local_error, const std::string &what);
};

}    // namespace LAMMPS_NS

#endif
