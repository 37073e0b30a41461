#ifndef FERRY_CFUSE_H
#define FERRY_CFUSE_H

/* libfuse3's high-level API for the placeholder filesystem. Only what Swift cannot
 * reach itself lives here: fuse.h picks its entry points with macros keyed on
 * FUSE_USE_VERSION, and Swift imports no function-like macros. */
#define FUSE_USE_VERSION 312
#include <fuse3/fuse.h>

/* Mounts a filesystem with `operations` at `mountpoint` (argv carries the -o options),
 * calls `mounted` once the mount is in place, and serves requests on up to
 * `max_threads` threads until it is unmounted. Returns 0 after an unmount, or a negative
 * step number: -1 fuse_new, -2 fuse_mount, -3 the loop failed. */
int fy_fuse_serve(int argc, char **argv, const struct fuse_operations *operations,
                  const char *mountpoint, unsigned max_threads, void (*mounted)(void));

/* The argument `fuse_fill_dir_t` takes for "no flags" (an enum Swift sees as a struct). */
int fy_fuse_fill(fuse_fill_dir_t filler, void *buffer, const char *name);

#endif
