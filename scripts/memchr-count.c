/* The floor of scripts/bench-peers.sh: counts the lines of one file with memchr over a
 * read-only mmap of it, on one thread, and prints the count. Nothing is parsed. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    unsigned long long lines = 0;
    if (st.st_size > 0) {
        const char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        const char *end = p + st.st_size;
        const char *nl;
        while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            lines++;
            p = nl + 1;
        }
    }
    printf("%llu\n", lines);
    return 0;
}
