// The libfuse3 low-level callbacks. Each one is a thin translation:
// arguments -> Filesystem method -> fuse_reply_*; all policy lives in
// Filesystem. Replies happen after every fs lock is released (Filesystem
// returns values), and read replies keep the chunk owners (RAM buffers,
// disk-file keepalives) alive until fuse_reply_* has returned.
#define FUSE_USE_VERSION 312
#include "fs/fuse_adapter.h"

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include <fmt/format.h>

#include "util/log.h"

namespace daramjwee::fs {
namespace {

Filesystem& fs_of(fuse_req_t req) { return *static_cast<Filesystem*>(fuse_req_userdata(req)); }

// Runs `body`, turning any escaping exception into an error reply. `body`
// replies itself; an exception is only possible before its reply.
template <typename F>
void guarded(fuse_req_t req, const char* op, F&& body) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, to_errno(Errc::kNoMemory));
  } catch (const std::exception& e) {
    util::logger("fs")->error("{} threw error={}", op, e.what());
    fuse_reply_err(req, to_errno(Errc::kInternal));
  } catch (...) {
    util::logger("fs")->error("{} threw an unknown exception", op);
    fuse_reply_err(req, to_errno(Errc::kInternal));
  }
}

void reply_error(fuse_req_t req, const Error& e) { fuse_reply_err(req, to_errno(e.code)); }

struct stat to_stat(const Attr& a) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 128 * 1024;  // cp and friends size their buffers from this
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_mtim.tv_sec = a.mtime_ns / 1000000000;
  st.st_mtim.tv_nsec = a.mtime_ns % 1000000000;
  st.st_atim = st.st_mtim;
  st.st_ctim = st.st_mtim;
  return st;
}

fuse_entry_param to_entry(const Entry& e) {
  fuse_entry_param p;
  std::memset(&p, 0, sizeof p);
  p.ino = e.attr.ino;
  p.entry_timeout = e.entry_timeout;
  p.attr_timeout = e.attr_timeout;
  if (e.attr.ino != 0) p.attr = to_stat(e.attr);
  return p;
}

void op_init(void*, fuse_conn_info* conn) {
  // Splice lets disk hits go from the cache file to /dev/fuse without a copy
  // through user space.
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  util::logger("fs")->info("filesystem initialised proto={}.{} splice_write={}", conn->proto_major,
                           conn->proto_minor, (conn->want & FUSE_CAP_SPLICE_WRITE) != 0);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    auto r = fs_of(req).lookup(parent, name);
    if (!r) return reply_error(req, r.error());
    auto p = to_entry(*r);
    fuse_reply_entry(req, &p);
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  fs_of(req).forget(ino, nlookup);
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; i++) fs_of(req).forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  guarded(req, "getattr", [&] {
    auto r = fs_of(req).getattr(ino);
    if (!r) return reply_error(req, r.error());
    struct stat st = to_stat(*r);
    double timeout = std::chrono::duration<double>(fs_of(req).options().ttl).count();
    fuse_reply_attr(req, &st, timeout);
  });
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "opendir", [&] {
    auto r = fs_of(req).opendir(ino);
    if (!r) return reply_error(req, r.error());
    fi->fh = *r;
    // The kernel may cache the entries, and keep them across opens: without
    // keep_cache every opendir drops them and each `find` re-reads every
    // directory. A changed listing invalidates the directory's inode
    // (Filesystem's notifier), which drops the cached entries.
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    if (fuse_reply_open(req, fi) == -ENOENT) fs_of(req).releasedir(*r);  // interrupted
  });
}

void do_readdir(fuse_req_t req, fuse_file_info* fi, size_t size, off_t off, bool plus) {
  guarded(req, plus ? "readdirplus" : "readdir", [&] {
    Filesystem& fs = fs_of(req);
    // Rough upper bound on how many entries can fit: each takes >= 24 bytes.
    auto items = fs.readdir(fi->fh, static_cast<uint64_t>(off), size / 24 + 1);
    if (!items) return reply_error(req, items.error());
    std::string buf(size, '\0');
    size_t pos = 0;
    uint64_t next = static_cast<uint64_t>(off);
    for (const auto& item : *items) {
      next++;
      if (plus) {
        size_t need = fuse_add_direntry_plus(req, nullptr, 0, item.name.c_str(), nullptr, 0);
        if (pos + need > size) break;
        fuse_entry_param p;
        if (item.name == "." || item.name == "..") {
          // The kernel takes no reference for dot entries: nothing to count.
          std::memset(&p, 0, sizeof p);
          p.attr.st_ino = item.attr.ino;
          p.attr.st_mode = item.attr.mode;
        } else {
          p = to_entry(fs.entry_for(fi->fh, item));
        }
        pos += fuse_add_direntry_plus(req, buf.data() + pos, size - pos, item.name.c_str(), &p,
                                      static_cast<off_t>(next));
      } else {
        struct stat st = to_stat(item.attr);
        size_t need = fuse_add_direntry(req, buf.data() + pos, size - pos, item.name.c_str(), &st,
                                        static_cast<off_t>(next));
        if (pos + need > size) break;
        pos += need;
      }
    }
    fuse_reply_buf(req, buf.data(), pos);
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  do_readdir(req, fi, size, off, false);
}
void op_readdirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  do_readdir(req, fi, size, off, true);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fs_of(req).releasedir(fi->fh);
  fuse_reply_err(req, 0);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    const bool write = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
    auto r = fs_of(req).open(ino, write);
    if (!r) return reply_error(req, r.error());
    fi->fh = r->fh;
    fi->keep_cache = r->keep_cache ? 1 : 0;
    fi->noflush = 1;  // nothing to flush on close: we never write
    if (fuse_reply_open(req, fi) == -ENOENT) fs_of(req).release(r->fh);  // interrupted
  });
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, "read", [&] {
    auto r = fs_of(req).read(fi->fh, static_cast<uint64_t>(off), size);
    if (!r) return reply_error(req, r.error());
    const auto& pieces = r->pieces;
    if (pieces.empty()) {
      fuse_reply_buf(req, nullptr, 0);
      return;
    }
    bool all_memory = true;
    for (const auto& p : pieces) all_memory = all_memory && !p.is_fd();
    if (all_memory) {
      // Straight from the cache's buffers: writev to /dev/fuse, no copy here.
      if (pieces.size() == 1) {
        fuse_reply_buf(req, reinterpret_cast<const char*>(pieces[0].mem.data()), pieces[0].length);
        return;
      }
      std::vector<iovec> iov(pieces.size());
      for (size_t i = 0; i < pieces.size(); i++) {
        iov[i].iov_base = const_cast<std::byte*>(pieces[i].mem.data());
        iov[i].iov_len = pieces[i].length;
      }
      fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
      return;
    }
    // At least one disk region: a buffer vector that libfuse splices (or
    // reads, when splice is unavailable) from the cache file.
    size_t bytes = sizeof(fuse_bufvec) + (pieces.size() - 1) * sizeof(fuse_buf);
    std::unique_ptr<fuse_bufvec, decltype(&std::free)> bufv(static_cast<fuse_bufvec*>(std::calloc(1, bytes)),
                                                             &std::free);
    if (!bufv) return reply_error(req, Error{Errc::kNoMemory, {}});
    bufv->count = pieces.size();
    for (size_t i = 0; i < pieces.size(); i++) {
      fuse_buf& b = bufv->buf[i];
      b.size = pieces[i].length;
      if (pieces[i].is_fd()) {
        b.flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
        b.fd = pieces[i].fd;
        b.pos = static_cast<off_t>(pieces[i].fd_offset);
      } else {
        b.mem = const_cast<std::byte*>(pieces[i].mem.data());
      }
    }
    fuse_reply_data(req, bufv.get(), FUSE_BUF_SPLICE_MOVE);
  });
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fs_of(req).release(fi->fh);
  fuse_reply_err(req, 0);
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  guarded(req, "statfs", [&] {
    StatfsReply r = fs_of(req).statfs();
    struct statvfs st;
    std::memset(&st, 0, sizeof st);
    st.f_bsize = r.block_size;
    st.f_frsize = r.block_size;
    st.f_blocks = r.blocks;
    st.f_bfree = r.blocks_free;
    st.f_bavail = r.blocks_free;
    st.f_files = r.files;
    st.f_namemax = r.name_max;
    fuse_reply_statfs(req, &st);
  });
}

void reply_value(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, value.size());
  } else if (size < value.size()) {
    fuse_reply_err(req, to_errno(Errc::kRange));
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

// With xattrs off, ENOSYS makes the kernel stop sending (get|list)xattr for
// the rest of the mount, so `ls -l` pays no round trip per file for
// security.selinux and system.posix_acl_access.
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  if (!fs_of(req).options().xattrs) return (void)fuse_reply_err(req, ENOSYS);
  guarded(req, "getxattr", [&] {
    auto r = fs_of(req).getxattr(ino, name);
    if (!r) return reply_error(req, r.error());
    reply_value(req, *r, size);
  });
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  if (!fs_of(req).options().xattrs) return (void)fuse_reply_err(req, ENOSYS);
  guarded(req, "listxattr", [&] {
    auto r = fs_of(req).listxattr(ino);
    if (!r) return reply_error(req, r.error());
    reply_value(req, *r, size);
  });
}

// Everything that would change the tree.
void rofs(fuse_req_t req) { fuse_reply_err(req, to_errno(Errc::kReadOnly)); }
void op_setattr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) { rofs(req); }
void op_mknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { rofs(req); }
void op_mkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { rofs(req); }
void op_unlink(fuse_req_t req, fuse_ino_t, const char*) { rofs(req); }
void op_rmdir(fuse_req_t req, fuse_ino_t, const char*) { rofs(req); }
void op_symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { rofs(req); }
void op_rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) { rofs(req); }
void op_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { rofs(req); }
void op_write(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) { rofs(req); }
void op_create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) { rofs(req); }
void op_setxattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) { rofs(req); }
void op_removexattr(fuse_req_t req, fuse_ino_t, const char*) { rofs(req); }
void op_fallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) { rofs(req); }
void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }
void op_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) { fuse_reply_err(req, 0); }

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.forget_multi = op_forget_multi;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.statfs = op_statfs;
  ops.setxattr = op_setxattr;
  ops.getxattr = op_getxattr;
  ops.listxattr = op_listxattr;
  ops.removexattr = op_removexattr;
  ops.create = op_create;
  ops.fallocate = op_fallocate;
  return ops;
}

// Raises the kernel's read-ahead of the mount (see MountOptions). It must
// run after the INIT exchange: the kernel caps the read-ahead with the INIT
// reply's max_readahead (which libfuse cannot raise above the kernel's
// 128 KiB offer), so a value written earlier is lowered again. stat() of the
// mount point returns only once INIT is done (and gives the device).
// Best effort: a daemon without write access to /sys keeps the default.
void set_kernel_readahead(const std::string& dir, uint64_t bytes) {
  auto log = util::logger("fs");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    log->info("kernel read-ahead left at the kernel's default: stat {}: {}", dir, std::strerror(err));
    return;
  }
  // If the mount is already gone (an unmount right after start), the path
  // names the directory underneath, whose device must not be touched.
  struct statfs sfs;
  constexpr long kFuseMagic = 0x65735546;  // FUSE_SUPER_MAGIC
  if (::statfs(dir.c_str(), &sfs) != 0 || static_cast<long>(sfs.f_type) != kFuseMagic) {
    log->info("kernel read-ahead left alone: {} is no longer a FUSE mount", dir);
    return;
  }
  const std::string path = fmt::format("/sys/class/bdi/{}:{}/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
  const std::string value = std::to_string(std::max<uint64_t>(bytes / 1024, 4));
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    int err = errno;
    log->info("kernel read-ahead left at the kernel's default: cannot write {}: {}", path, std::strerror(err));
  } else {
    log->info("kernel read-ahead set to {} KiB ({})", value, path);
  }
  if (fd >= 0) ::close(fd);
}

class FuseNotifier final : public KernelNotifier {
 public:
  explicit FuseNotifier(fuse_session* se) : se_(se) {}
  void inval_inode(uint64_t ino) override {
    // -ENOENT: the kernel no longer knows the inode, which is fine.
    (void)fuse_lowlevel_notify_inval_inode(se_, ino, 0, 0);
  }
  void inval_entry(uint64_t parent, const std::string& name) override {
    (void)fuse_lowlevel_notify_inval_entry(se_, parent, name.c_str(), name.size());
  }
  void inval_attr(uint64_t ino) override {
    // A negative offset: attributes only, no page of the cache is touched.
    (void)fuse_lowlevel_notify_inval_inode(se_, ino, -1, 0);
  }

 private:
  fuse_session* se_;
};

}  // namespace

struct FuseSession::Rep {
  Filesystem* fs = nullptr;
  fuse_session* se = nullptr;
  bool mounted = false;
  MountOptions options;
};

FuseSession::FuseSession(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

Result<std::unique_ptr<FuseSession>> FuseSession::mount(Filesystem& fs, const MountOptions& options) {
  auto rep = std::make_unique<Rep>();
  rep->fs = &fs;
  rep->options = options;
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  auto add = [&](const std::string& a) { return fuse_opt_add_arg(&args, a.c_str()) == 0; };
  bool ok = add("daramjwee-fs");
  if (options.debug) ok = ok && add("-d");
  for (const auto& o : options.fuse_options) ok = ok && add("-o") && add(o);
  if (!ok) {
    fuse_opt_free_args(&args);
    return Status::exhausted("out of memory building FUSE arguments");
  }
  static const fuse_lowlevel_ops ops = make_ops();
  rep->se = fuse_session_new(&args, &ops, sizeof ops, &fs);
  fuse_opt_free_args(&args);
  if (!rep->se) return Status::invalid_argument("FUSE rejected the mount options (see the line above)");
  if (fuse_session_mount(rep->se, options.mountpoint.c_str()) != 0) {
    fuse_session_destroy(rep->se);
    rep->se = nullptr;
    return Status::io_error(fmt::format("cannot mount on {} (is /dev/fuse available and are you allowed to mount?)",
                                        options.mountpoint));
  }
  rep->mounted = true;
  fs.set_notifier(std::make_shared<FuseNotifier>(rep->se));
  return std::unique_ptr<FuseSession>(new FuseSession(std::move(rep)));
}

Status FuseSession::run() {
  if (fuse_set_signal_handlers(rep_->se) != 0) return Status::internal("cannot install signal handlers");
  if (rep_->options.kernel_readahead > 0) {
    // Detached, holding only copies: its stat() is answered by the loop
    // below, and if the loop ends first the stat fails once the mount goes.
    std::thread([dir = rep_->options.mountpoint, bytes = rep_->options.kernel_readahead] {
      set_kernel_readahead(dir, bytes);
    }).detach();
  }
  int rc;
  if (rep_->options.single_thread) {
    rc = fuse_session_loop(rep_->se);
  } else {
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_max_threads(cfg, rep_->options.max_threads);
    rc = fuse_session_loop_mt(rep_->se, cfg);
    fuse_loop_cfg_destroy(cfg);
  }
  fuse_remove_signal_handlers(rep_->se);
  // The loop returns 0 on an unmount or a signal; the exit signal number
  // is not an error for us.
  if (rc < 0 && rc != -EINTR) return Status::io_error(fmt::format("FUSE loop failed: {}", std::strerror(-rc)));
  return Status::ok();
}

void FuseSession::unmount() {
  if (rep_->se && rep_->mounted) {
    fuse_session_unmount(rep_->se);
    rep_->mounted = false;
  }
}

FuseSession::~FuseSession() {
  unmount();
  if (rep_->se) fuse_session_destroy(rep_->se);
}

}  // namespace daramjwee::fs
