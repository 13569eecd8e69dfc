/*
 * The native part of @morgana/netif-tap: everything that JavaScript cannot do itself.
 *
 * - open: /dev/net/tun, TUNSETIFF (IFF_TAP | IFF_NO_PI [| IFF_VNET_HDR]), O_NONBLOCK, optionally
 *   inside another network namespace (setns on this thread, then back), MTU get/set.
 * - reading: a uv_poll handle on the fd; each readable callback drains up to a batch of frames
 *   into one preallocated buffer and calls JavaScript once with the count (offsets and lengths
 *   go into a preallocated Uint32Array). Measured: node's net.Socket refuses a tap fd
 *   (ERR_INVALID_FD_TYPE) and fs.read on the thread pool manages only 33k-61k frames/s and can
 *   hold process.exit(); this reaches several hundred thousand frames/s.
 * - writing: write() on the nonblocking fd from a preallocated buffer, synchronously; the
 *   result (or -errno) goes back to JavaScript, which counts drops.
 * - close: stops polling, closes the fd, frees everything once the handle is closed and the
 *   JavaScript object is collected.
 *
 * Errors thrown to JavaScript carry `code` (errno name, e.g. 'EPERM') and `syscall`.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

typedef struct tap {
  int fd;
  napi_env env;
  uv_poll_t poll;
  int poll_initialized; /* uv_poll_init succeeded: uv_close must run before free */
  int polling;          /* uv_poll_start is active */
  int closed;           /* the fd is closed */
  int handle_released;  /* uv_close callback ran, or the poll handle never existed */
  int finalized;        /* the JavaScript external was collected */
  int cleanup_hook;     /* an env cleanup hook is registered */

  napi_ref callback;
  napi_async_context async_context;

  napi_ref rx_ref;
  uint8_t *rx;
  size_t rx_size;
  napi_ref meta_ref;
  uint32_t *meta;     /* [offset, length] per frame */
  uint32_t max_frames;
  size_t frame_room;  /* a read needs at least this much space (largest frame + 1) */

  napi_ref tx_ref;
  uint8_t *tx;
  size_t tx_size;
} tap_t;

/* ---------- errors ---------- */

static void throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  char message[512];
  snprintf(message, sizeof message, "%s: %s (%s)", what, strerror(err), syscall);
  napi_value msg, error, code, sys, errnum;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  /* libuv's error codes are -errno on Unix, so uv_err_name gives the errno name. */
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "syscall", sys);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
}

static void throw_type(napi_env env, const char *message) { napi_throw_type_error(env, NULL, message); }

/* ---------- lifetime ---------- */

static void maybe_free(tap_t *t) {
  if (t->finalized && t->handle_released) free(t);
}

static void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref != NULL) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

static void on_handle_closed(uv_handle_t *handle) {
  tap_t *t = (tap_t *)handle->data;
  t->handle_released = 1;
  maybe_free(t);
}

static void env_cleanup(void *arg);

/* Stops polling and closes the fd. Safe to call more than once and from any state. */
static void tap_close(tap_t *t) {
  if (t->closed) return;
  t->closed = 1;
  if (t->polling) {
    /* uv_poll_stop removes the fd from epoll, so closing it afterwards is safe. */
    uv_poll_stop(&t->poll);
    t->polling = 0;
  }
  close(t->fd);
  t->fd = -1;
  if (t->poll_initialized) {
    uv_close((uv_handle_t *)&t->poll, on_handle_closed);
  } else {
    t->handle_released = 1;
  }
  if (t->cleanup_hook) {
    napi_remove_env_cleanup_hook(t->env, env_cleanup, t);
    t->cleanup_hook = 0;
  }
}

static void release_refs(tap_t *t) {
  delete_ref(t->env, &t->callback);
  delete_ref(t->env, &t->rx_ref);
  delete_ref(t->env, &t->meta_ref);
  delete_ref(t->env, &t->tx_ref);
  if (t->async_context != NULL) {
    napi_async_destroy(t->env, t->async_context);
    t->async_context = NULL;
  }
}

/* The environment is going away (worker exit, process teardown): release the device. */
static void env_cleanup(void *arg) {
  tap_t *t = (tap_t *)arg;
  t->cleanup_hook = 0;
  tap_close(t);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  tap_t *t = (tap_t *)data;
  tap_close(t);
  release_refs(t);
  (void)env;
  t->finalized = 1;
  maybe_free(t);
}

static tap_t *get_tap(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    throw_type(env, "not a tap handle");
    return NULL;
  }
  return (tap_t *)data;
}

/* ---------- namespaces ---------- */

/* Enters the network namespace at `path` on this thread; returns a fd to come back with, or -1. */
static int enter_netns(napi_env env, const char *path) {
  int original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) {
    throw_errno(env, errno, "open", "cannot open this thread's network namespace");
    return -1;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(original);
    throw_errno(env, err, "open", "cannot open the network namespace");
    return -1;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(original);
    throw_errno(env, err, "setns", "cannot enter the network namespace");
    return -1;
  }
  close(target);
  return original;
}

static void leave_netns(int original) {
  /* Staying in the wrong namespace would silently move every later socket of this thread. */
  if (setns(original, CLONE_NEWNET) != 0) abort();
  close(original);
}

/* ---------- open ---------- */

static int get_string(napi_env env, napi_value value, char *out, size_t size, int *present) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_undefined || type == napi_null) {
    *present = 0;
    out[0] = 0;
    return 1;
  }
  if (type != napi_string) return 0;
  size_t length = 0;
  napi_get_value_string_utf8(env, value, NULL, 0, &length);
  if (length >= size) return 0;
  napi_get_value_string_utf8(env, value, out, size, &length);
  *present = 1;
  return 1;
}

static napi_value finish_open(napi_env env, int fd, const char *name, int mtu, unsigned ifindex) {
  tap_t *t = (tap_t *)calloc(1, sizeof(tap_t));
  if (t == NULL) {
    close(fd);
    throw_errno(env, ENOMEM, "calloc", "cannot allocate the tap handle");
    return NULL;
  }
  t->fd = fd;
  t->env = env;
  t->handle_released = 1;
  napi_value handle, result, v;
  if (napi_create_external(env, t, finalize, NULL, &handle) != napi_ok) {
    close(fd);
    free(t);
    return NULL;
  }
  napi_add_env_cleanup_hook(env, env_cleanup, t);
  t->cleanup_hook = 1;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "handle", handle);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "name", v);
  napi_create_int32(env, mtu, &v);
  napi_set_named_property(env, result, "mtu", v);
  napi_create_uint32(env, ifindex, &v);
  napi_set_named_property(env, result, "ifindex", v);
  return result;
}

/*
 * open(name?: string, create: boolean, vnetHeader: boolean, offloadFlags: number,
 *      netnsPath?: string, mtu: number) -> { handle, name, mtu, ifindex }
 * mtu 0 keeps the device's MTU. offloadFlags are TUN_F_* bits for TUNSETOFFLOAD.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) {
    throw_type(env, "open: expected 6 arguments");
    return NULL;
  }
  char name[IFNAMSIZ];
  char netns[4096];
  int has_name = 0, has_netns = 0;
  bool create = false, vnet = false;
  uint32_t offload_flags = 0;
  int32_t mtu = 0;
  if (!get_string(env, argv[0], name, sizeof name, &has_name)) {
    throw_type(env, "open: the device name must be a string of at most 15 bytes");
    return NULL;
  }
  if (!get_string(env, argv[4], netns, sizeof netns, &has_netns)) {
    throw_type(env, "open: the namespace path must be a string");
    return NULL;
  }
  if (napi_get_value_bool(env, argv[1], &create) != napi_ok || napi_get_value_bool(env, argv[2], &vnet) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &offload_flags) != napi_ok || napi_get_value_int32(env, argv[5], &mtu) != napi_ok) {
    throw_type(env, "open: bad argument types");
    return NULL;
  }

  int original_ns = -1;
  if (has_netns) {
    original_ns = enter_netns(env, netns);
    if (original_ns < 0) return NULL;
  }

  int fd = -1, ctl = -1, err = 0, device_mtu = 0;
  const char *syscall = "", *what = "";
  unsigned ifindex = 0;
  struct ifreq ifr;

  if (has_name && !create && if_nametoindex(name) == 0) {
    err = ENODEV;
    syscall = "if_nametoindex";
    what = "no such network device";
    goto fail;
  }
  fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    err = errno;
    syscall = "open";
    what = "cannot open /dev/net/tun";
    goto fail;
  }
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  if (has_name) memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    err = errno;
    syscall = "ioctl(TUNSETIFF)";
    what = "cannot attach to the TAP device";
    goto fail;
  }
  if (vnet) {
    /* Fixed little-endian header fields and the 10-byte header, whatever the host or defaults. */
    int little_endian = 1, header_size = 10;
    if (ioctl(fd, TUNSETVNETLE, &little_endian) != 0 || ioctl(fd, TUNSETVNETHDRSZ, &header_size) != 0) {
      err = errno;
      syscall = "ioctl(TUNSETVNETLE)";
      what = "cannot set the TAP device's virtio-net header format";
      goto fail;
    }
  }
  if (vnet && ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload_flags) != 0) {
    err = errno;
    syscall = "ioctl(TUNSETOFFLOAD)";
    what = "cannot set the TAP device's offloads";
    goto fail;
  }
  /* MTU ioctls go through a socket of the device's namespace (we are still inside it). */
  ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ctl < 0) {
    err = errno;
    syscall = "socket";
    what = "cannot open a control socket";
    goto fail;
  }
  if (mtu > 0) {
    struct ifreq mreq;
    memset(&mreq, 0, sizeof mreq);
    memcpy(mreq.ifr_name, ifr.ifr_name, IFNAMSIZ);
    mreq.ifr_mtu = mtu;
    if (ioctl(ctl, SIOCSIFMTU, &mreq) != 0) {
      err = errno;
      syscall = "ioctl(SIOCSIFMTU)";
      what = "cannot set the TAP device's MTU";
      goto fail;
    }
  }
  {
    struct ifreq mreq;
    memset(&mreq, 0, sizeof mreq);
    memcpy(mreq.ifr_name, ifr.ifr_name, IFNAMSIZ);
    if (ioctl(ctl, SIOCGIFMTU, &mreq) != 0) {
      err = errno;
      syscall = "ioctl(SIOCGIFMTU)";
      what = "cannot read the TAP device's MTU";
      goto fail;
    }
    device_mtu = mreq.ifr_mtu;
  }
  ifindex = if_nametoindex(ifr.ifr_name);
  close(ctl);
  if (original_ns >= 0) leave_netns(original_ns);
  char actual[IFNAMSIZ + 1];
  memcpy(actual, ifr.ifr_name, IFNAMSIZ);
  actual[IFNAMSIZ] = 0;
  return finish_open(env, fd, actual, device_mtu, ifindex);

fail:
  if (ctl >= 0) close(ctl);
  if (fd >= 0) close(fd);
  if (original_ns >= 0) leave_netns(original_ns);
  throw_errno(env, err, syscall, what);
  return NULL;
}

/* ---------- buffers ---------- */

static int get_bytes(napi_env env, napi_value value, uint8_t **data, size_t *length, napi_ref *ref) {
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) return 0;
  napi_typedarray_type type;
  void *pointer = NULL;
  napi_value arraybuffer;
  size_t count = 0, offset = 0;
  napi_get_typedarray_info(env, value, &type, &count, &pointer, &arraybuffer, &offset);
  size_t element = type == napi_uint32_array ? 4 : 1;
  if (type != napi_uint8_array && type != napi_uint32_array) return 0;
  *data = (uint8_t *)pointer;
  *length = count * element;
  /* An ArrayBuffer's backing store never moves, so holding the pointer is safe while referenced. */
  napi_create_reference(env, value, 1, ref);
  return 1;
}

/* attach(handle, rx: Uint8Array, meta: Uint32Array, maxFrames, frameRoom, tx: Uint8Array) */
static napi_value js_attach(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  tap_t *t = argc == 6 ? get_tap(env, argv[0]) : NULL;
  if (t == NULL) {
    if (argc != 6) throw_type(env, "attach: expected 6 arguments");
    return NULL;
  }
  delete_ref(env, &t->rx_ref);
  delete_ref(env, &t->meta_ref);
  delete_ref(env, &t->tx_ref);
  size_t meta_length = 0;
  uint32_t max_frames = 0, frame_room = 0;
  if (!get_bytes(env, argv[1], &t->rx, &t->rx_size, &t->rx_ref) ||
      !get_bytes(env, argv[2], (uint8_t **)&t->meta, &meta_length, &t->meta_ref) ||
      !get_bytes(env, argv[5], &t->tx, &t->tx_size, &t->tx_ref) ||
      napi_get_value_uint32(env, argv[3], &max_frames) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &frame_room) != napi_ok) {
    throw_type(env, "attach: bad arguments");
    return NULL;
  }
  if (max_frames == 0 || meta_length < (size_t)max_frames * 8 || frame_room == 0 || t->rx_size < frame_room) {
    throw_type(env, "attach: buffers too small for the batch");
    return NULL;
  }
  t->max_frames = max_frames;
  t->frame_room = frame_room;
  return NULL;
}

/* ---------- reading ---------- */

static void call_js(tap_t *t, int32_t count, int32_t error) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[2];
  if (napi_get_reference_value(env, t->callback, &fn) == napi_ok && fn != NULL) {
    /* napi_make_callback needs an object receiver; the handler ignores `this`. */
    napi_get_global(env, &recv);
    napi_create_int32(env, count, &argv[0]);
    napi_create_int32(env, error, &argv[1]);
    /* napi_make_callback, not napi_call_function: runs nextTicks and microtasks afterwards. */
    napi_status status = napi_make_callback(env, t->async_context, recv, fn, 2, argv, NULL);
    if (status == napi_pending_exception) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  tap_t *t = (tap_t *)handle->data;
  if (t->closed) return;
  if (status < 0) {
    call_js(t, 0, -status);
    return;
  }
  uint32_t count = 0;
  size_t offset = 0;
  int error = 0;
  while (count < t->max_frames && t->rx_size - offset >= t->frame_room) {
    ssize_t n = read(t->fd, t->rx + offset, t->rx_size - offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
      break;
    }
    t->meta[2 * count] = (uint32_t)offset;
    t->meta[2 * count + 1] = (uint32_t)n;
    count++;
    offset += ((size_t)n + 7) & ~(size_t)7;
  }
  if (count > 0 || error != 0) call_js(t, (int32_t)count, error);
}

/* start(handle, callback(count, errno)): polls the fd; stop(handle) pauses. */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  tap_t *t = argc == 2 ? get_tap(env, argv[0]) : NULL;
  if (t == NULL) {
    if (argc != 2) throw_type(env, "start: expected 2 arguments");
    return NULL;
  }
  if (t->closed) {
    throw_errno(env, EBADF, "start", "the TAP device is closed");
    return NULL;
  }
  if (t->rx == NULL) {
    throw_type(env, "start: attach buffers first");
    return NULL;
  }
  delete_ref(env, &t->callback);
  napi_create_reference(env, argv[1], 1, &t->callback);
  if (t->async_context == NULL) {
    napi_value resource_name;
    napi_create_string_utf8(env, "morgana:tap", NAPI_AUTO_LENGTH, &resource_name);
    napi_async_init(env, NULL, resource_name, &t->async_context);
  }
  if (!t->poll_initialized) {
    uv_loop_t *loop = NULL;
    napi_get_uv_event_loop(env, &loop);
    int rc = uv_poll_init(loop, &t->poll, t->fd);
    if (rc != 0) {
      throw_errno(env, -rc, "uv_poll_init", "cannot poll the TAP device");
      return NULL;
    }
    t->poll.data = t;
    t->poll_initialized = 1;
    t->handle_released = 0;
  }
  int rc = uv_poll_start(&t->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    throw_errno(env, -rc, "uv_poll_start", "cannot poll the TAP device");
    return NULL;
  }
  t->polling = 1;
  return NULL;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  tap_t *t = argc == 1 ? get_tap(env, argv[0]) : NULL;
  if (t == NULL) return NULL;
  if (t->polling) {
    uv_poll_stop(&t->poll);
    t->polling = 0;
  }
  return NULL;
}

/* ---------- writing ---------- */

/* write(handle, length) -> bytes written, or -errno (EAGAIN when the queue is full). */
static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  tap_t *t = argc == 2 ? get_tap(env, argv[0]) : NULL;
  if (t == NULL) return NULL;
  uint32_t length = 0;
  if (napi_get_value_uint32(env, argv[1], &length) != napi_ok || t->tx == NULL || length > t->tx_size) {
    throw_type(env, "write: bad length or no transmit buffer");
    return NULL;
  }
  ssize_t n;
  if (t->closed) {
    n = -EBADF;
  } else {
    do {
      n = write(t->fd, t->tx, length);
    } while (n < 0 && errno == EINTR);
    if (n < 0) n = -errno;
  }
  napi_create_int32(env, (int32_t)n, &result);
  return result;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  tap_t *t = argc == 1 ? get_tap(env, argv[0]) : NULL;
  if (t == NULL) return NULL;
  tap_close(t);
  delete_ref(env, &t->callback);
  return NULL;
}

/* ---------- module ---------- */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"attach", NULL, js_attach, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
