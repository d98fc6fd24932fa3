"""The expression language: read (``parse``), checked and translated (``check``, ``ir``), bounded
(``bounds``), compiled (``codegen``) and written back for people (``readable``, ``templates``, ``words``).

Nothing here knows about policy files, rules or orders as such: the language is given the types of the
facts and the decision, the parameters and the definitions (an ``ir.Environment``), and gives back checked
trees and the code that runs them.
"""
