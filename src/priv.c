/*
 * Privileges.  Started as root, mailabused does a short root-only part
 * (the runtime directory, the pid file and its lock, the database
 * directory and files, the sockets) and then becomes the configured
 * user for good, before it answers anything; started as that user it
 * runs as is.  Both programs keep the database private: its directory
 * 0700 and its files 0600, owned by the user, whoever creates them.
 */
#include <sys/resource.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static struct {
	char name[64];
	uid_t uid;
	gid_t gid;
} priv;

/* A uid's login name for messages, or "uid N". */
static const char *
priv_owner(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %lu", (unsigned long)uid);
	return buf;
}

/* Look the configured user up; EX_NOUSER if it does not exist. */
int
priv_user_init(const char *name, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(err, errlen, "user \"%s\" does not exist: create it (useradd --system"
		    " --no-create-home --shell /usr/sbin/nologin %s) or set \"user\" in the"
		    " configuration", name, name);
		return EX_NOUSER;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user \"%s\" is root: mailabused runs as an unprivileged"
		    " user of its own", name);
		return EX_CONFIG;
	}
	snprintf(priv.name, sizeof priv.name, "%s", pw->pw_name);
	priv.uid = pw->pw_uid;
	priv.gid = pw->pw_gid;
	return 0;
}

const char *
priv_user_name(void)
{
	return priv.name;
}

uid_t
priv_uid(void)
{
	return priv.uid;
}

/* Whether we run with root's powers (and so create files for the user). */
int
priv_is_root(void)
{
	return geteuid() == 0;
}

/*
 * The directory of the sockets or of the pid file: created (0755, owned
 * by the user) if missing; otherwise owned by root or the user, and
 * writable by nobody else, so that no one can put anything in our way.
 */
int
priv_rundir_make(const char *dir, char *err, size_t errlen)
{
	char who[64];
	struct stat sb;
	int fd, created = 0;

	if (mkdir(dir, 0755) == 0)
		created = 1;
	else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		return EX_CANTCREAT;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, errno == ELOOP || errno == ENOTDIR ?
		    "not a directory" : strerror(errno));
		return EX_CANTCREAT;
	}
	if (created && ((priv_is_root() && fchown(fd, priv.uid, priv.gid) == -1) ||
	    fchmod(fd, 0755) == -1)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		close(fd);
		return EX_CANTCREAT;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		close(fd);
		return EX_CANTCREAT;
	}
	close(fd);
	if (sb.st_uid != 0 && sb.st_uid != priv.uid) {
		snprintf(err, errlen, "%s: owned by %s, expected root or %s", dir,
		    priv_owner(sb.st_uid, who, sizeof who), priv.name);
		return EX_CANTCREAT;
	}
	if ((sb.st_mode & S_IWOTH) ||
	    ((sb.st_mode & S_IWGRP) && sb.st_gid != 0 && sb.st_gid != priv.gid)) {
		snprintf(err, errlen, "%s: writable by other users: the sockets and the pid"
		    " file need a directory only root and %s can write", dir, priv.name);
		return EX_CANTCREAT;
	}
	return 0;
}

/*
 * One database file (the database, -wal, -shm, -journal): if it exists
 * (or is the database and we are root: then created), a regular file
 * owned by the user, mode 0600.  root gives it to the user; the user
 * only tightens its mode.
 */
static int
priv_db_file(const char *path, int create, char *err, size_t errlen)
{
	char who[64];
	struct stat sb;
	int fd, flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

	if (create)
		flags |= O_CREAT;
	if ((fd = open(path, flags, 0600)) == -1) {
		if (errno == ENOENT && !create)
			return 0;
		if (errno == ELOOP) {
			snprintf(err, errlen, "%s: a symbolic link: refused", path);
			return EX_CANTCREAT;
		}
		if ((errno == EACCES || errno == EPERM) && lstat(path, &sb) == 0) {
			snprintf(err, errlen, "%s: not writable by %s: owned by %s, expected %s",
			    path, priv.name, priv_owner(sb.st_uid, who, sizeof who), priv.name);
			return EX_CANTCREAT;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return EX_CANTCREAT;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
		snprintf(err, errlen, "%s: not a regular file with a single link: refused", path);
		close(fd);
		return EX_CANTCREAT;
	}
	if (sb.st_uid != priv.uid || (priv_is_root() && sb.st_gid != priv.gid)) {
		if (!priv_is_root()) {
			snprintf(err, errlen, "%s: owned by %s, expected %s", path,
			    priv_owner(sb.st_uid, who, sizeof who), priv.name);
			close(fd);
			return EX_CANTCREAT;
		}
		if (fchown(fd, priv.uid, priv.gid) == -1) {
			snprintf(err, errlen, "%s: cannot give it to %s: %s", path, priv.name,
			    strerror(errno));
			close(fd);
			return EX_CANTCREAT;
		}
	}
	if ((sb.st_mode & 07177) != 0 && fchmod(fd, 0600) == -1) {
		snprintf(err, errlen, "%s: cannot make it private (0600): %s", path,
		    strerror(errno));
		close(fd);
		return EX_CANTCREAT;
	}
	close(fd);
	return 0;
}

/*
 * Before the database is opened: its directory 0700 and owned by the
 * user (created so if missing), its files 0600 and owned by the user.
 * As root the database file itself is created here, for the user:
 * SQLite, run by root, gives the -wal, -shm and -journal files it
 * creates later the owner and mode of the database file.  Call it before
 * this process opens the database: closing any descriptor of a file
 * drops the process's fcntl locks on it, SQLite's included.
 */
int
priv_db_prepare(const char *dbpath, char *err, size_t errlen)
{
	/* -gen: the generation file the daemon makes beside it (store_view.c) */
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal", "-gen" };
	char copy[PATH_MAX], path[PATH_MAX + 16], who[64];
	const char *dir;
	struct stat sb;
	int fd, created = 0, r;

	snprintf(copy, sizeof copy, "%s", dbpath);
	dir = dirname(copy);
	if (mkdir(dir, 0700) == 0)
		created = 1;
	else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create the database directory: %s", dir,
		    strerror(errno));
		return EX_CANTCREAT;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, errno == ELOOP || errno == ENOTDIR ?
		    "not a directory" : strerror(errno));
		return EX_CANTCREAT;
	}
	if ((created && priv_is_root() && fchown(fd, priv.uid, priv.gid) == -1) ||
	    fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		close(fd);
		return EX_CANTCREAT;
	}
	if (sb.st_uid != priv.uid) {
		snprintf(err, errlen, "%s: the database directory is owned by %s, expected %s"
		    " (chown %s %s)", dir, priv_owner(sb.st_uid, who, sizeof who), priv.name,
		    priv.name, dir);
		close(fd);
		return EX_CANTCREAT;
	}
	if ((sb.st_mode & 07777) != 0700 && fchmod(fd, 0700) == -1) {
		snprintf(err, errlen, "%s: cannot make it private (0700): %s", dir,
		    strerror(errno));
		close(fd);
		return EX_CANTCREAT;
	}
	close(fd);
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(path, sizeof path, "%s%s", dbpath, suffix[i]);
		if ((r = priv_db_file(path, i == 0 && priv_is_root(), err, errlen)) != 0)
			return r;
	}
	return 0;
}

/*
 * Open and lock the pid file for the daemon's lifetime.  A symbolic
 * link is refused; a file another daemon holds is left as it is (the
 * lock is taken before anything is written).  *fdp is -1 for no file.
 */
int
priv_pidfile_open(const char *path, int *fdp, char *err, size_t errlen)
{
	char copy[PATH_MAX], other[32];
	struct stat sb;
	ssize_t n;
	int fd, r;

	*fdp = -1;
	if (path[0] == '\0')
		return 0;
	snprintf(copy, sizeof copy, "%s", path);
	if ((r = priv_rundir_make(dirname(copy), err, errlen)) != 0)
		return r;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "pid file %s: %s", path, errno == ELOOP ?
		    "a symbolic link: refused" : strerror(errno));
		return EX_CANTCREAT;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
		snprintf(err, errlen, "pid file %s: not a regular file with a single link:"
		    " refused", path);
		close(fd);
		return EX_CANTCREAT;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			snprintf(err, errlen, "pid file %s: lock: %s", path, strerror(errno));
			close(fd);
			return EX_OSERR;
		}
		n = pread(fd, other, sizeof other - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		snprintf(err, errlen, "pid file %s is locked: another mailabused%s%s%s is"
		    " running", path, other[0] != '\0' ? " (pid " : "", other,
		    other[0] != '\0' ? ")" : "");
		close(fd);
		return EX_UNAVAILABLE;
	}
	/* ours now: what a dead daemon left is no one's pid */
	if (ftruncate(fd, 0) == -1) {
		snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
		close(fd);
		return EX_IOERR;
	}
	(void)fchmod(fd, 0644);		/* anyone may read the pid; no-op if not ours */
	*fdp = fd;
	return 0;
}

/* Write our pid (after daemon(): the lock stays with the open file). */
int
priv_pidfile_write(int fd, char *err, size_t errlen)
{
	char buf[32];
	int n;

	if (fd == -1)
		return 0;
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		snprintf(err, errlen, "pid file: %s", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

/*
 * At exit, while still holding the lock: remove the pid file if the
 * path is still ours, else (a directory we cannot write) empty it.
 */
void
priv_pidfile_remove(int fd, const char *path)
{
	struct stat a, b;

	if (fd == -1)
		return;
	if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && unlink(path) == -1) {
		log_debug("pid file %s: cannot remove it (%s); emptying it", path,
		    strerror(errno));
		if (ftruncate(fd, 0) == -1)
			log_warn("pid file %s: cannot empty it", path);
	}
	close(fd);
}

/*
 * Become the user for good: its groups, gid and uid, saved ids too;
 * then make sure root cannot come back.  Already the user: nothing to do.
 */
int
priv_drop(char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() != 0) {
		if (getuid() == priv.uid && geteuid() == priv.uid)
			return 0;
		snprintf(err, errlen, "running as uid %lu: start mailabused as root or as"
		    " user %s (uid %lu)", (unsigned long)geteuid(), priv.name,
		    (unsigned long)priv.uid);
		return EX_NOPERM;
	}
	if (initgroups(priv.name, priv.gid) == -1) {
		snprintf(err, errlen, "initgroups %s: %s", priv.name, strerror(errno));
		return EX_OSERR;
	}
	if (setresgid(priv.gid, priv.gid, priv.gid) == -1) {
		snprintf(err, errlen, "setresgid %lu: %s", (unsigned long)priv.gid,
		    strerror(errno));
		return EX_OSERR;
	}
	if (setresuid(priv.uid, priv.uid, priv.uid) == -1) {
		snprintf(err, errlen, "setresuid %lu: %s", (unsigned long)priv.uid,
		    strerror(errno));
		return EX_OSERR;
	}
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 ||
	    getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    ru != priv.uid || eu != priv.uid || su != priv.uid ||
	    rg != priv.gid || eg != priv.gid || sg != priv.gid) {
		snprintf(err, errlen, "the drop to %s did not hold: root could come back",
		    priv.name);
		return EX_OSERR;
	}
	return 0;
}

/*
 * Background work that must not slow the daemon's answers (a full
 * sync): the calling thread runs at nice PRIV_BACKGROUND_NICE from now
 * on, unless it already runs lower.  Where it is not allowed, nothing.
 */
void
priv_background(void)
{
	int now;

	errno = 0;
	now = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && now < PRIV_BACKGROUND_NICE)
		(void)setpriority(PRIO_PROCESS, 0, PRIV_BACKGROUND_NICE);
}
