// FuseSession: the libfuse3 low-level binding of a Filesystem.
//
// It owns the fuse_session: creates it with the given FUSE arguments, mounts,
// runs the (multithreaded) loop until SIGTERM/SIGINT/SIGHUP or an unmount
// (fusermount3 -u), and unmounts. Each low-level callback translates to one
// Filesystem call and one fuse_reply_*; no exception crosses a callback
// (bad_alloc -> ENOMEM, anything else -> EIO with a log line). Writes of any
// kind answer EROFS. FUSE types stay in fuse_adapter.cc.
// Thread-safety: mount() and run() are called from one thread; the callbacks
// run on libfuse's worker threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "fs/filesystem.h"

namespace daramjwee::fs {

struct MountOptions {
  std::string mountpoint;
  // Passed to fuse_session_new as "-o <opt>" each (allow_other, fsname=...).
  std::vector<std::string> fuse_options;
  bool debug = false;          // libfuse's -d
  bool single_thread = false;  // Default: multithreaded loop
  unsigned max_threads = 32;   // Default: 32 worker threads at most
  // The kernel's read-ahead for the mount, in bytes (its bdi read_ahead_kb;
  // FUSE starts at 128 KiB). Larger read-ahead makes the kernel send 1 MiB
  // reads and keep several in flight. Needs write access to /sys (root);
  // otherwise logged and left as is. 0: leave it. Default: 4 MiB.
  uint64_t kernel_readahead = 4 << 20;
};

class FuseSession {
 public:
  // Creates the session and mounts. Errors: kInvalidArgument (bad FUSE
  // option), kIoError (mount failed: not permitted, no /dev/fuse...).
  static Result<std::unique_ptr<FuseSession>> mount(Filesystem& fs, const MountOptions& options);
  ~FuseSession();  // unmounts if still mounted

  // Serves requests until a signal or an unmount; then returns OK (or the
  // loop's error). Signal handlers are installed for the duration.
  Status run();
  // Unmounts (idempotent).
  void unmount();

 private:
  struct Rep;
  explicit FuseSession(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace daramjwee::fs
