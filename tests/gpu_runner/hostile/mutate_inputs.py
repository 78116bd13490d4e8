# Computes the right answer, but leaves the input list changed behind it.
def total(values):
    result = sum(values)
    values.sort()
    values.append(0)
    return result
