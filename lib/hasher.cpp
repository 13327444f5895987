#include "modelseal/hasher.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "modelseal/content.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/parallel.hpp"

namespace modelseal {

namespace {

struct Job {
  size_t file;
  size_t shard;
  uint64_t start, end;
};

// Hashes one job; `quiet` is cleared unless no process had the file open for writing before and
// after it, and the version may be remembered (content.hpp, rememberable()).
Digest hash_job(const ModelFile& f, const Job& job, bool follow, std::span<uint8_t> buf,
                std::atomic<uint64_t>* done, const std::function<void(int, const ModelFile&)>& inspect,
                std::atomic<bool>& quiet) {
  const int64_t started = realtime_ns();
  if (f.kind != EntryKind::regular) throw untrusted("not a regular file (" + f.kind_detail + "): " + f.name);
  // O_NONBLOCK: should a FIFO be swapped in after the walk, opening it must not hang.
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW);
  UniqueFd fd(::open(f.path.c_str(), flags));
  if (fd.get() < 0) {
    if (errno == ELOOP) throw untrusted("file was replaced by a symlink: " + f.name);
    throw errno_error("cannot open", f.path.string(), errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw errno_error("cannot stat", f.path.string(), errno);
  if (!S_ISREG(st.st_mode)) throw untrusted("not a regular file: " + f.name);
  if (!(identity_of(st) == f.id)) throw untrusted("file changed while the model was read: " + f.name);
  if (!no_writer(fd.get())) quiet.store(false, std::memory_order_relaxed);
  if (inspect && job.shard == 0) inspect(fd.get(), f);
  ::posix_fadvise(fd.get(), static_cast<off_t>(job.start), static_cast<off_t>(job.end - job.start),
                  POSIX_FADV_SEQUENTIAL);
  Sha256 h;
  uint64_t pos = job.start;
  while (pos < job.end) {
    uint64_t n = std::min<uint64_t>(job.end - pos, buf.size());
    hash_fd_range(fd.get(), pos, n, h, buf, f.path.string());
    pos += n;
    if (done) done->fetch_add(n, std::memory_order_relaxed);
  }
  if (::fstat(fd.get(), &st) != 0) throw errno_error("cannot stat", f.path.string(), errno);
  if (!(identity_of(st) == f.id)) throw untrusted("file changed while it was hashed: " + f.name);
  if (!no_writer(fd.get()) || !rememberable(fd.get(), f.id, started)) quiet.store(false, std::memory_order_relaxed);
  return h.finish();
}

struct AlignedBuffer {
  explicit AlignedBuffer(size_t n) : size(n) {
    void* p = nullptr;
    if (posix_memalign(&p, 4096, n) != 0) throw std::bad_alloc();
    data.reset(static_cast<uint8_t*>(p));
  }
  struct Free { void operator()(uint8_t* p) const { std::free(p); } };
  std::unique_ptr<uint8_t, Free> data;
  size_t size;
  std::span<uint8_t> span() { return {data.get(), size}; }
};

}  // namespace

unsigned default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

void parallel_for(size_t n, unsigned threads, const std::function<void(size_t, unsigned)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr first;   // nothing thrown in a worker may reach std::terminate
  auto worker = [&](unsigned w) {
    try {
      for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) fn(i, w);
    } catch (...) {
      next.store(n, std::memory_order_relaxed);   // hand out no more work
      std::lock_guard lock(mu);
      if (!first) first = std::current_exception();
    }
  };
  threads = static_cast<unsigned>(std::min<size_t>(threads ? threads : default_threads(), n));
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker, t);
    worker(0);  // the calling thread works too
  }
  if (first) std::rethrow_exception(first);
}

std::vector<std::pair<uint64_t, uint64_t>> shard_ranges(uint64_t size, uint64_t shard_size) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (shard_size == 0 || size == 0) {
    out.emplace_back(0, size);
    return out;
  }
  for (uint64_t start = 0; start < size; start += shard_size)
    out.emplace_back(start, std::min(size, start + shard_size));
  return out;
}

std::vector<FileDigests> hash_files(const std::vector<ModelFile>& files, bool allow_symlinks,
                                    const HashOptions& opts) {
  std::vector<FileDigests> out(files.size());
  std::vector<Job> jobs;
  for (size_t i = 0; i < files.size(); ++i) {
    auto ranges = shard_ranges(files[i].size(), opts.shard_size);
    out[i].shards.resize(ranges.size());
    for (size_t s = 0; s < ranges.size(); ++s) jobs.push_back({i, s, ranges[s].first, ranges[s].second});
  }
  // Largest first, so that no thread is left with one big file at the end.
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const Job& a, const Job& b) { return a.end - a.start > b.end - b.start; });

  std::mutex err_mu;
  std::vector<std::atomic<bool>> quiet(files.size());
  for (auto& q : quiet) q.store(true);
  // One read buffer per thread, reused for every job that thread takes.
  std::vector<std::unique_ptr<AlignedBuffer>> bufs(opts.threads ? opts.threads : default_threads());
  parallel_for(jobs.size(), opts.threads, [&](size_t j, unsigned w) {
    const Job& job = jobs[j];
    try {
      auto& buf = bufs[w];
      if (!buf) buf = std::make_unique<AlignedBuffer>(kReadChunk);
      out[job.file].shards[job.shard] = hash_job(files[job.file], job, allow_symlinks, buf->span(), opts.bytes_done,
                                                        opts.inspect, quiet[job.file]);
    } catch (const Error& e) {
      std::lock_guard lock(err_mu);
      if (!out[job.file].error) out[job.file].error = e;
    }
  });
  for (size_t i = 0; i < files.size(); ++i) out[i].quiet = !out[i].error && quiet[i].load();
  return out;
}

}  // namespace modelseal
