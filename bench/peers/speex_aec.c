/* Echo-cancellation peer for `ainima bench audio`: SpeexDSP's MDF echo
 * canceller (the one in PJSIP, Asterisk and many VoIP stacks) over raw
 * 16-bit mono microphone and reference files at 16 kHz, 10 ms frames.
 * Writes the cancelled signal; prints the processing time in seconds.
 *
 *   speex_aec MIC.raw REF.raw OUT.raw FILTER_SAMPLES
 * Build: cc -O2 speex_aec.c -o speex_aec -lspeexdsp
 */
#include <speex/speex_echo.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define FRAME 160

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MIC.raw REF.raw OUT.raw FILTER_SAMPLES\n", argv[0]);
        return 2;
    }
    FILE *mic = fopen(argv[1], "rb"), *ref = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
    if (!mic || !ref || !out) {
        perror("open");
        return 1;
    }
    int filter = atoi(argv[4]);
    SpeexEchoState *st = speex_echo_state_init(FRAME, filter);
    int rate = 16000;
    speex_echo_ctl(st, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
    short m[FRAME], r[FRAME], e[FRAME];
    double spent = 0;
    while (fread(m, sizeof(short), FRAME, mic) == FRAME && fread(r, sizeof(short), FRAME, ref) == FRAME) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        speex_echo_cancellation(st, m, r, e);
        clock_gettime(CLOCK_MONOTONIC, &b);
        spent += (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        fwrite(e, sizeof(short), FRAME, out);
    }
    speex_echo_state_destroy(st);
    fclose(mic);
    fclose(ref);
    fclose(out);
    printf("%.6f\n", spent);
    return 0;
}
