// LeakSanitizer's suppressions for the sanitizer build (compiled in only
// when PARAMSERV_SANITIZERS has address): the one leak LeakSanitizer finds
// is inside CAF 0.17.6's network layer, at the exit of a node whose peers
// are still connected.
//
// For every node it meets, CAF's BASP broker spawns a hidden helper actor
// (basp_broker::learned_new_node, for remote spawning) that waits for the
// peer's configuration server and then monitors its proxy; it ends only on
// that proxy's down message. A node that exits while a peer is still up
// never gets it: the helper holds the proxy, the proxy the broker, the
// broker the helper, and the middleman's shutdown leaves that cycle, with
// what the broker still had queued (down messages of this node's actors
// for remote monitors, their exit reasons), for LeakSanitizer to report.
// Every object of it is an indirect leak (nothing outside the cycle points
// into it), allocated by CAF. Seen at the exit of about 1 node in 6
// under `paramserv launch` with 2 server and 2 worker nodes, two launches
// at a time; a request to the broker before the actor system goes, so that
// it has handled its queue, did not prevent it.
//
// The entries name CAF's frames only. An object paramserv's code allocates
// (an actor's state, a buffer, a message it builds) has no such frame in
// its allocation stack and is still reported; the caf::error objects and
// behaviours CAF allocates are suppressed wherever they come from, but an
// owner of theirs that paramserv allocated is not.

extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcaf_io.so\n"
         "leak:caf::actor_system::actor_system\n"
         "leak:caf::default_attachable::actor_exited\n"
         "leak:caf::scheduled_actor::do_become\n"
         "leak:caf::make_error\n"
         "leak:caf::error::error\n"
         "leak:caf::node_id::default_data::local\n";
}
