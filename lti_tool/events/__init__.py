"""Events in: the sink every source hands its learner events to (sink). It resolves the learners
(lti_tool.people) and writes the event store (lti_tool.activity); it sits above both, so that
the store never needs the people's linking, which merges stored activity."""
