// Readers of the disk tier's file-backed objects. The reader owns a shared
// open descriptor of the (already verified) data file; that descriptor is
// the keepalive of file_region(), so an unlink by remove/evict/overwrite
// never pulls the bytes from under a reader (see disk_store.h).
// Thread-safety: one thread at a time per reader (Reader's contract).
#pragma once

#include <memory>

#include "core/bytes.h"
#include "core/stream.h"
#include "tiers/disk/file_util.h"

namespace daramjwee::tiers::disk_detail {

// `fd` is open on a data file whose first `length` bytes were verified.
// `mem`, when set, holds those same bytes (read during verification), so
// read() and view() serve from memory; file_region() is offered either way.
std::unique_ptr<Reader> make_file_reader(std::shared_ptr<const UniqueFd> fd, uint64_t length,
                                         SharedBytes mem);

}  // namespace daramjwee::tiers::disk_detail
