"""People: identities and the rules that link them to one person, merging, and course roles.

Every source that names a learner (launch, NRPS, Canvas, Open edX, tracking logs, xAPI, the
event API) links them through `linking.link_people`; every source of roles reads them through
`roles.course_role`.
"""
