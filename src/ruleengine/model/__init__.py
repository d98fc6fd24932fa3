"""What a compiled policy is made of, as plain frozen data: rules, actions, conditions, parameter declarations."""
