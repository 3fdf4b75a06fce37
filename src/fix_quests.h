/* fix quests: per-atom QUESTS differential entropy dH (nats) of each atom's environment
   against a reference set, evaluated every N steps and at the start of each run.

   Syntax: fix ID group-ID quests N reference-file keyword value ...
     bandwidth h        kernel bandwidth in 1/Angstrom (default: the reference's)
     threshold t        dH above t (nats) counts as extrapolating (default 0.0)
     halt t soft|hard   stop when max dH > t: soft ends the run, hard is an error
     save t file        when max dH > t, append the frame to an extended-XYZ file
     k K / cutoff rc    optional assertions: the reference must use these descriptor settings

   Output: per-atom vector f_ID = dH (0.0 outside the group), global vector
   f_ID[1..4] = max dH, mean dH over the group, fraction of group atoms with dH > t, their count.

   All numerics happen in Python (lammps_quests.lammps.fix.evaluate); this class only keeps
   the per-atom storage, reduces the statistics over MPI ranks and acts on the thresholds. */

#ifndef LMP_FIX_QUESTS_H
#define LMP_FIX_QUESTS_H

#include "fix.h"

#include <string>

typedef struct _object PyObject;

namespace LAMMPS_NS {

class FixQuests : public Fix {
 public:
  FixQuests(class LAMMPS *, int, char **);
  ~FixQuests() override;
  int setmask() override;
  void init() override;
  void setup(int) override;
  void end_of_step() override;
  double compute_vector(int) override;

  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  void set_arrays(int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;
  double memory_usage() override;

 private:
  enum HaltMode { HALT_NONE, HALT_SOFT, HALT_HARD };

  std::string reference_path;
  double bandwidth;         // 1/Angstrom, used for every evaluation
  double user_bandwidth;    // < 0 when not given: take the reference's
  int user_k;               // <= 0 when not given
  double user_cutoff;       // < 0 when not given
  int descriptor_k;         // from the reference
  double descriptor_cutoff;    // Angstrom, from the reference
  double threshold;            // nats
  HaltMode halt_mode;
  double halt_threshold;
  bool save_enabled;
  double save_threshold;
  std::string save_path;
  double group_atoms;    // atoms in the group at the last evaluation (all ranks)
  bigint last_saved_step;
  bool warned_order;    // the fix-order warning is printed once

  double *dh;           // per-atom dH, nats (vector_atom)
  double stats[4];      // max, mean, fraction > threshold, count > threshold

  PyObject *evaluate_function;    // lammps_quests.lammps.fix.evaluate
  PyObject *save_function;        // lammps_quests.lammps.fix.save_frame
  PyObject *lammps_capsule;       // PyCapsule holding this LAMMPS*

  void parse_keywords(int, char **);
  void open_reference();
  void ensure_comm_cutoff();
  void warn_about_later_box_changes();
  void evaluate();
  void reduce_statistics();
  void act_on_thresholds();
  void call_python(PyObject *function, bool with_evaluate_arguments, const char *what);
  void stop_on_python_error(const std::string &local_error, const char *what);
};

}    // namespace LAMMPS_NS

#endif
