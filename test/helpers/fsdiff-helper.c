// System calls node:fs does not offer, for the differential file-system tests (test/helpers/fsdiff.ts):
// renameat2 flags, xattrs, fallocate, SEEK_DATA/SEEK_HOLE, and plain calls made as another user.
// Compiled at test time with cc. One call per run; prints "ok <value>" or "err <errno number>".
//
//   fsdiff-helper [-u UID] CMD ARGS...     (-u: drop to UID/GID=UID with no groups first)
//   rename2 OLD NEW FLAGS | rename OLD NEW | mkdir PATH MODE | rmdir PATH | unlink PATH
//   open PATH FLAGS MODE (opens and closes) | write PATH HEXDATA (O_WRONLY, at offset 0)
//   chmod PATH MODE | setxattr PATH NAME HEXVALUE FLAGS NOFOLLOW | getxattr PATH NAME NOFOLLOW
//   listxattr PATH NOFOLLOW | removexattr PATH NAME NOFOLLOW | dumpxattr PATH (lgetxattr of all)
//   fallocate MODE OFFSET LENGTH (on fd 3) | lseek OFFSET WHENCE (on fd 3)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static int fail(void) {
  printf("err %d\n", errno);
  return 0;
}
static int ok(void) {
  printf("ok\n");
  return 0;
}
static size_t unhex(const char *s, unsigned char *out) {
  size_t n = strlen(s) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(s + 2 * i, "%2x", &v);
    out[i] = (unsigned char)v;
  }
  return n;
}
static void hex(const unsigned char *b, ssize_t n) {
  for (ssize_t i = 0; i < n; i++) printf("%02x", b[i]);
}
static long long num(const char *s) { return strtoll(s, NULL, 0); }

int main(int argc, char **argv) {
  static unsigned char buf[1 << 17];
  static char names[1 << 16];
  int a = 1;
  if (argc > 2 && strcmp(argv[1], "-u") == 0) {
    int uid = (int)num(argv[2]);
    if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) {
      perror("drop privileges");
      return 2;
    }
    a = 3;
  }
  if (a >= argc) return 2;
  const char *cmd = argv[a];
  char **v = argv + a + 1;
  int n = argc - a - 1;

  if (!strcmp(cmd, "rename2") && n == 3) {
    if (syscall(SYS_renameat2, AT_FDCWD, v[0], AT_FDCWD, v[1], (unsigned)num(v[2]))) return fail();
    return ok();
  }
  if (!strcmp(cmd, "rename") && n == 2) return rename(v[0], v[1]) ? fail() : ok();
  if (!strcmp(cmd, "mkdir") && n == 2) return mkdir(v[0], (mode_t)num(v[1])) ? fail() : ok();
  if (!strcmp(cmd, "rmdir") && n == 1) return rmdir(v[0]) ? fail() : ok();
  if (!strcmp(cmd, "unlink") && n == 1) return unlink(v[0]) ? fail() : ok();
  if (!strcmp(cmd, "chmod") && n == 2) return chmod(v[0], (mode_t)num(v[1])) ? fail() : ok();
  if (!strcmp(cmd, "open") && n == 3) {
    int fd = open(v[0], (int)num(v[1]), (mode_t)num(v[2]));
    if (fd < 0) return fail();
    close(fd);
    return ok();
  }
  if (!strcmp(cmd, "write") && n == 2) {
    int fd = open(v[0], O_WRONLY);
    if (fd < 0) return fail();
    size_t len = unhex(v[1], buf);
    ssize_t w = write(fd, buf, len);
    int e = errno;
    close(fd);
    errno = e;
    if (w < 0) return fail();
    printf("ok %zd\n", w);
    return 0;
  }
  if (!strcmp(cmd, "setxattr") && n == 5) {
    size_t len = unhex(v[2], buf);
    int r = num(v[4]) ? lsetxattr(v[0], v[1], buf, len, (int)num(v[3])) : setxattr(v[0], v[1], buf, len, (int)num(v[3]));
    return r ? fail() : ok();
  }
  if (!strcmp(cmd, "getxattr") && n == 3) {
    ssize_t r = num(v[2]) ? lgetxattr(v[0], v[1], buf, sizeof buf) : getxattr(v[0], v[1], buf, sizeof buf);
    if (r < 0) return fail();
    printf("ok ");
    hex(buf, r);
    printf("\n");
    return 0;
  }
  if (!strcmp(cmd, "listxattr") && n == 2) {
    ssize_t r = num(v[1]) ? llistxattr(v[0], names, sizeof names) : listxattr(v[0], names, sizeof names);
    if (r < 0) return fail();
    printf("ok");
    for (ssize_t i = 0; i < r; i += (ssize_t)strlen(names + i) + 1) printf(" %s", names + i);
    printf("\n");
    return 0;
  }
  if (!strcmp(cmd, "removexattr") && n == 3) {
    int r = num(v[2]) ? lremovexattr(v[0], v[1]) : removexattr(v[0], v[1]);
    return r ? fail() : ok();
  }
  if (!strcmp(cmd, "dumpxattr") && n == 1) {
    ssize_t r = llistxattr(v[0], names, sizeof names);
    if (r < 0) return fail();
    printf("ok");
    for (ssize_t i = 0; i < r; i += (ssize_t)strlen(names + i) + 1) {
      ssize_t k = lgetxattr(v[0], names + i, buf, sizeof buf);
      printf(" %s=", names + i);
      if (k >= 0) hex(buf, k);
      else printf("!%d", errno);
    }
    printf("\n");
    return 0;
  }
  if (!strcmp(cmd, "fallocate") && n == 3) {
    return fallocate(3, (int)num(v[0]), (off_t)num(v[1]), (off_t)num(v[2])) ? fail() : ok();
  }
  if (!strcmp(cmd, "lseek") && n == 2) {
    off_t r = lseek(3, (off_t)num(v[0]), (int)num(v[1]));
    if (r < 0) return fail();
    printf("ok %lld\n", (long long)r);
    return 0;
  }
  fprintf(stderr, "fsdiff-helper: bad command %s with %d args\n", cmd, n);
  return 2;
}
