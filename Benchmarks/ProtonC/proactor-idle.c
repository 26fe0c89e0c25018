/* proactor-idle: the heap an idle connection costs in Qpid Proton C's proactor. Listens on
 * loopback, connects K clients to itself; each client opens a session and a receiving link with
 * 1000 credit, the server side answers in kind. Once all K links have their credit, it prints
 *   idle-connection-bytes <bytes>   heap growth (mallinfo2 uordblks + hblkhd) / (2K)
 * and exits. Same work as Benchmarks/ProactorIdle (Swift). Usage: proactor-idle [K]
 * Build: gcc -O2 -o proactor-idle proactor-idle.c -lqpid-proton */
#include <proton/connection.h>
#include <proton/link.h>
#include <proton/listener.h>
#include <proton/netaddr.h>
#include <proton/proactor.h>
#include <proton/session.h>
#include <proton/transport.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t heap(void) { struct mallinfo2 m = mallinfo2(); return m.uordblks + m.hblkhd; }

int main(int argc, char **argv) {
  long k = argc > 1 ? atol(argv[1]) : 1000, flowed = 0;
  pn_proactor_t *p = pn_proactor();
  pn_listener_t *l = pn_listener();
  pn_proactor_listen(p, l, "127.0.0.1:0", 1024);
  size_t before = 0;
  int done = 0;
  while (!done) {
    pn_event_batch_t *b = pn_proactor_wait(p);
    pn_event_t *e;
    while ((e = pn_event_batch_next(b))) {
      switch (pn_event_type(e)) {
      case PN_LISTENER_OPEN: {
        char port[16];
        const pn_netaddr_t *a = pn_listener_addr(l);
        pn_netaddr_host_port(a, NULL, 0, port, sizeof port);
        before = heap();
        for (long i = 0; i < k; i++) {
          char addr[64]; snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
          pn_connection_t *c = pn_connection();
          pn_connection_open(c);
          pn_session_t *s = pn_session(c); pn_session_open(s);
          pn_link_t *r = pn_receiver(s, "idle"); pn_link_open(r); pn_link_flow(r, 1000);
          pn_proactor_connect2(p, c, NULL, addr);
        }
        break;
      }
      case PN_LISTENER_ACCEPT: pn_listener_accept2(l, NULL, NULL); break;
      case PN_CONNECTION_REMOTE_OPEN:
        if (!(pn_connection_state(pn_event_connection(e)) & PN_LOCAL_ACTIVE)) pn_connection_open(pn_event_connection(e));
        break;
      case PN_SESSION_REMOTE_OPEN:
        if (!(pn_session_state(pn_event_session(e)) & PN_LOCAL_ACTIVE)) pn_session_open(pn_event_session(e));
        break;
      case PN_LINK_REMOTE_OPEN:
        if (!(pn_link_state(pn_event_link(e)) & PN_LOCAL_ACTIVE)) pn_link_open(pn_event_link(e));
        break;
      case PN_LINK_FLOW:
        if (pn_link_is_sender(pn_event_link(e)) && pn_link_credit(pn_event_link(e)) == 1000 && ++flowed == k) done = 1;
        break;
      case PN_TRANSPORT_ERROR: fprintf(stderr, "proactor-idle: transport error\n"); return 1;
      default: break;
      }
    }
    pn_proactor_done(p, b);
  }
  printf("idle-connection-bytes %.0f\n", (double)(heap() - before) / (2.0 * (double)k));
  return 0;
}
