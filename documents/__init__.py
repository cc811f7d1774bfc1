"""The documents and reports feature: the MOU and the consent form (forms.py, in plain language, in
English and Spanish) and the referral-to-access report with its small-count suppression. Built on
the foundation's configuration and the connector's state store.
"""
