// The floor scripts/bench-gateway measures the gateway against: a Worker that
// only forwards each request to the app through a service binding, in one
// `wrangler dev` with the app, as the gateway runs.
export default {
  fetch(request, env) {
    return env.APP.fetch(request);
  },
};
