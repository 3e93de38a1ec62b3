// Single flight: one origin fetch per missing key, however many callers ask.
//
// The first caller of join_or_lead() for a key becomes the leader and owns
// the Flight until it calls start(), fail() or not_found(); a LeaderGuard
// fails the flight if the leader leaves any other way (exception, early
// return), so followers never wait forever. Followers wait for that outcome
// and then read the same bytes: every reader of a flight reads the one
// origin stream, which is pulled by whichever reader is ahead (the pump) and
// kept as shared segments so readers at different positions, and the
// write-behind fill of lower tiers, see identical bytes.
//
// A Flight stays registered until its stream ends (or fails), so callers
// arriving mid-stream join it instead of fetching again. When every reader
// abandons the stream before its end, the Flight is destroyed: its tier-0
// sink aborts (nothing partial is published) and the registration expires.
// Memory: a flight holds the object's bytes until its last reader is done;
// callers that stream huge objects should cut them into chunks (the
// filesystem does).
// Thread-safety: all methods are thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/metadata.h"
#include "core/stream.h"

namespace daramjwee {

class FlightRegistry;

class Flight : public std::enable_shared_from_this<Flight> {
 public:
  enum class State { kPending, kStreaming, kNotFound, kFailed };

  // Called once by the pumping reader at the end of the stream, with the
  // still-open sink (or null) and every segment, before the flight is
  // unregistered. It commits (under the key fence) and schedules the lower
  // tiers' fill.
  using Completion =
      std::function<void(std::unique_ptr<WriteSink> sink, const std::vector<SharedBytes>& segments,
                         uint64_t total)>;
  // Called when writing into the sink fails (the sink is then aborted).
  using SinkError = std::function<void(const Status&)>;

  Flight(std::string key, std::shared_ptr<FlightRegistry> registry);
  ~Flight();

  const std::string& key() const { return key_; }

  // Leader: the body is known (from the origin, or from a lower tier being
  // promoted). `from` is where followers are told it came from: a tier
  // index, or -1 for the origin.
  void start(Metadata metadata, std::unique_ptr<Reader> source, std::unique_ptr<WriteSink> sink,
             Completion on_complete, SinkError on_sink_error, int from = -1);
  // Leader: the origin answered not-found / failed. Followers get the same.
  void not_found();
  void fail(Status error);

  // Follower: waits for the leader's outcome. OK when streaming; the shared
  // error; or kNotFound.
  Status wait();
  State state() const;
  // Requires: state() == kStreaming.
  const Metadata& metadata() const { return metadata_; }
  // Requires: state() == kStreaming. Tier index, or -1 (origin).
  int source_tier() const { return from_; }
  // A new reader from byte 0. Requires: state() == kStreaming.
  std::unique_ptr<Reader> reader();

 private:
  friend class FlightReader;
  // Copies from position `pos` into out, pumping the source if needed.
  Result<size_t> read_at(uint64_t pos, std::span<std::byte> out);
  // The rest of the body from `pos` as shared memory, when the stream has
  // ended and [pos, end) lies in its last segment; adopts a one-buffer
  // source first (no I/O). nullopt otherwise.
  std::optional<SharedView> view_at(uint64_t pos);
  // The body from `pos` as a file range, while nothing has been pumped and
  // the source is a plain file range (a disk-tier body shared by waiters):
  // they splice from the file instead of copying through the flight.
  std::optional<FileRegion> region_at(uint64_t pos);
  // The pumping reader's work: one segment from the origin into the sink
  // and the segment list. Requires: pumping_ set by the caller.
  void pump();
  uint64_t total_snapshot();
  void unregister();

  const std::string key_;
  std::shared_ptr<FlightRegistry> registry_;
  Metadata metadata_;  // written once by start() before state becomes kStreaming
  int from_ = -1;      // likewise

  mutable std::mutex mu_;       // guards everything below
  std::condition_variable cv_;  // state change, new segment, pump released
  State state_ = State::kPending;
  Status error_;
  std::vector<SharedBytes> segments_;
  std::vector<uint64_t> starts_;  // starts_[i] = offset of segments_[i]
  uint64_t total_ = 0;
  bool eof_ = false;
  bool pumping_ = false;
  bool registered_ = true;
  // Owned by whoever holds pumping_ (accessed without mu_ while pumping).
  std::unique_ptr<Reader> source_;
  std::unique_ptr<WriteSink> sink_;
  Completion on_complete_;
  SinkError on_sink_error_;
};

class FlightRegistry : public std::enable_shared_from_this<FlightRegistry> {
 public:
  // Returns the key's flight and whether the caller leads it.
  std::pair<std::shared_ptr<Flight>, bool> join_or_lead(std::string_view key);
  // Forgets `flight` if it is still the key's registered flight.
  void release(const std::string& key, const Flight* flight);
  size_t size() const;

 private:
  mutable std::mutex mu_;  // guards map_
  std::unordered_map<std::string, std::weak_ptr<Flight>> map_;
};

// Makes the leader's every exit path release followers.
class LeaderGuard {
 public:
  explicit LeaderGuard(std::shared_ptr<Flight> f) : flight_(std::move(f)) {}
  ~LeaderGuard() {
    if (flight_ && flight_->state() == Flight::State::kPending)
      flight_->fail(Status::internal("origin fetch leader exited without an outcome"));
  }
  LeaderGuard(const LeaderGuard&) = delete;
  LeaderGuard& operator=(const LeaderGuard&) = delete;

 private:
  std::shared_ptr<Flight> flight_;
};

}  // namespace daramjwee
