#include "CFuse.h"

int fy_fuse_serve(int argc, char **argv, const struct fuse_operations *operations,
                  const char *mountpoint, unsigned max_threads, void (*mounted)(void)) {
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct fuse *fuse = fuse_new(&args, operations, sizeof *operations, NULL);
    fuse_opt_free_args(&args);
    if (!fuse) return -1;
    if (fuse_mount(fuse, mountpoint) != 0) {
        fuse_destroy(fuse);
        return -2;
    }
    mounted();
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_idle_threads(config, 4);
    int result = fuse_loop_mt(fuse, config);
    fuse_loop_cfg_destroy(config);
    fuse_unmount(fuse);
    fuse_destroy(fuse);
    return result == 0 ? 0 : -3;
}

int fy_fuse_fill(fuse_fill_dir_t filler, void *buffer, const char *name) {
    return filler(buffer, name, NULL, 0, (enum fuse_fill_dir_flags)0);
}
